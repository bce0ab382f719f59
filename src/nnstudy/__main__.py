from nnstudy.cli import main

raise SystemExit(main())
