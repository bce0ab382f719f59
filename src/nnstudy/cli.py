"""The command line: parse -> config -> call the library. Thin on purpose.

Exit status: 0 done; 2 bad usage, config or data (one line, no traceback); 1 anything unexpected.
With --json, stdout carries exactly one JSON object; progress and logs go to stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import traceback

from nnstudy.config import DEVICES, PROFILES, TrainConfig
from nnstudy.errors import UsageError


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse's default prints the whole usage)
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def emit(args, obj: dict, text: str | None = None) -> None:
    from nnstudy.store import to_json

    if getattr(args, "json", False):
        sys.stdout.write(to_json(obj) + "\n")
    elif text is not None:
        print(text)


def open_store(args, readonly: bool = False):
    """readonly for commands that only read (runs, show, report): they then work on read-only media
    and cannot change what is stored, nor create a store where there is none."""
    from nnstudy.store import Store

    return Store(getattr(args, "out", None), readonly=readonly)


def add_common(p, device: bool = True, json_flag: bool = True):
    p.add_argument("--out", metavar="DIR", help="results store (default: $NNSTUDY_HOME or ./runs)")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    if device:
        p.add_argument("--device", choices=DEVICES, default=None, help="auto: cuda, then mps, then cpu")


def add_config_flags(p) -> None:
    """One flag per TrainConfig field, defaulting to 'not given' so a --config file can fill it; its
    help is the field's comment in config.py, its default and what it accepts."""
    from nnstudy.config import field_docs, valid_values

    docs = field_docs()
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("extra", "device"):
            continue
        flag = "--" + f.name.replace("_", "-")
        default = str(f.default).lower() if isinstance(f.default, bool) else f.default if f.default != "" else '""'
        valid = valid_values(f.name) if not isinstance(f.default, bool) else ""  # --x / --no-x says it
        text = f"{docs.get(f.name, '')} [default: {default}" + (f"; valid: {valid}]" if valid else "]")
        text = text.replace("%", "%%")  # argparse formats help with %
        if isinstance(f.default, bool):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                           help=text)
        else:
            p.add_argument(flag, dest=f.name, type=type(f.default), default=argparse.SUPPRESS,
                           metavar=f.name.upper(), help=text)


def build_parser() -> Parser:
    p = Parser(prog="nnstudy", description="A lab for the fundamentals of deep learning.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    s = sub.add_parser("list", help="the studies, one line each")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("models", help="the registered models, one line each")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("run", help="run one study")
    s.add_argument("study")
    s.add_argument("--profile", choices=PROFILES, default="default")
    s.add_argument("--seeds", type=int, default=None, help="number of seeds (default: the profile's)")
    add_common(s)

    s = sub.add_parser("train", help="train one model on one dataset")
    s.add_argument("--recipe", metavar="NAME", help="start from a named config (`nnstudy recipes`); flags override it")
    s.add_argument("--config", metavar="FILE", help="a TOML file with TrainConfig fields (flags override it)")
    s.add_argument("--profile", choices=PROFILES, default="default",
                   help="quick: 2,000 training images and 1 epoch; default: as given; full: the recipe's long form")
    s.add_argument("--resume", metavar="RUN", help="continue a killed run from its last checkpoint")
    s.add_argument("--figures", action=argparse.BooleanOptionalAction, default=True,
                   help="draw curves, confusion matrix, worst errors and filters into the run folder")
    add_config_flags(s)
    add_common(s)

    s = sub.add_parser("recipes", help="the named training configs, one line each")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("show-model", help="a model's layers: output shape, parameters, multiply-adds")
    s.add_argument("model")
    s.add_argument("--dataset", default="fashion-mnist", help="sets the input shape and classes (default: %(default)s)")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("runs", help="the runs in the store as a table, newest last")
    s.add_argument("--study", help="only this study's runs (a sweep's --name counts as a study)")
    s.add_argument("--kind", choices=("study", "train"))
    s.add_argument("--status", choices=("running", "complete", "diverged", "failed", "crashed"))
    s.add_argument("--last", type=int, metavar="N", help="only the newest N runs (after the other filters)")
    add_common(s, device=False)

    s = sub.add_parser("show", help="one run: what it trained, its numbers, where its files are")
    s.add_argument("run", help="a run id or a unique prefix of one")
    s.add_argument("--all", action="store_true", help="every config field, not only those off their defaults")
    add_common(s, device=False)

    s = sub.add_parser("all", help="every study, then the report: the main job")
    s.add_argument("--profile", choices=PROFILES, default="default")
    s.add_argument("--seeds", type=int, default=None)
    s.add_argument("--force", action="store_true", help="re-run studies the store already holds")
    add_common(s)

    s = sub.add_parser("report", help="rebuild the HTML + Markdown report from the store")
    s.add_argument("--report-dir", metavar="DIR", default=None, help="where to write (default: STORE/report)")
    add_common(s, device=False)

    s = sub.add_parser("serve", help="the playground in the browser: train, compare, browse the store")
    s.add_argument("--port", type=int, default=8765, help="TCP port (default: %(default)s)")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default: %(default)s, this machine only; other addresses get a warning)")
    add_common(s, device=False, json_flag=False)

    s = sub.add_parser("sweep", help="a grid of training runs, same-shaped ones batched (--FIELD GRID)")
    from nnstudy.sweep import add_grid_flags

    add_grid_flags(s)  # --FIELD 1,2,3 | a..b | LO:HI:N for every TrainConfig field; --seeds
    s.add_argument("--jobs", type=int, default=1, help="worker processes for groups of different shapes")
    s.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this machine (--jobs processes); ray: a Ray cluster (pip install 'nnstudy[ray]')")
    s.add_argument("--address", metavar="HOST:PORT", default=None,
                   help="with --engine ray: the cluster's head (`ray start --head`); default: a local Ray")
    s.add_argument("--name", default="sweep", help="study label of the runs (default: sweep)")
    add_common(s, device=False)
    return p


# -- commands -----------------------------------------------------------------------------------
def cmd_list(args) -> int:
    from nnstudy.studies import load_all

    reg = load_all()
    rows = [{"name": n, "about": reg.help(n)} for n in reg.names()]
    emit(args, {"studies": rows}, "\n".join(f"{r['name']:<15} {r['about']}" for r in rows))
    return 0


def cmd_models(args) -> int:
    from nnstudy.models import load_all

    reg = load_all()
    rows = [{"name": n, "about": reg.help(n)} for n in reg.names()]
    emit(args, {"models": rows}, "\n".join(f"{r['name']:<15} {r['about']}" for r in rows))
    return 0


def cmd_run(args) -> int:
    from nnstudy.studies import format_table, run_study

    store = open_store(args)
    row = run_study(args.study, store, args.profile, args.seeds, args.device or "auto", log=log)
    summary = row["summary"]
    figures = sorted(str(p) for p in store.run_dir(row["id"]).glob("*.png"))
    text = (f"{summary.get('title', args.study)}\n\n{format_table(summary.get('table', []))}\n\n"
            f"run {row['id']} ({summary['seconds']} s); figures in {store.run_dir(row['id'])}")
    emit(args, {"run": row["id"], "study": args.study, "status": row["status"], "figures": figures,
                **{k: v for k, v in summary.items() if k != "env"}}, text)
    return 0


def train_config(args) -> TrainConfig:
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)
             if f.name != "device" and hasattr(args, f.name)}
    if args.device:
        given["device"] = args.device
    # TrainConfig defaults < --recipe < --config file < --profile scaling < flags (nnstudy.recipes)
    from nnstudy.config import read_toml
    from nnstudy.recipes import resolve

    file = read_toml(args.config) if args.config else None
    return resolve(args.recipe, args.profile, given, file, where=args.config or "flags")


def cmd_train(args) -> int:
    from nnstudy import distributed
    from nnstudy.experiment import train_and_evaluate

    store = open_store(args)
    if args.resume:
        run = store.get(args.resume)
        cfg = TrainConfig.from_dict(run["config"], where=f"run {run['id']}")
    else:
        cfg = train_config(args)
    distributed.setup(cfg.device)  # under torchrun: join the group; rank 0 alone writes and prints
    try:
        name = f"{args.recipe or cfg.model} on {cfg.dataset}"
        res = train_and_evaluate(cfg, store, name=name, log=log, resume=args.resume)
    finally:
        distributed.teardown()
    if not distributed.is_main():
        return 0
    figures = train_figures(store, res) if args.figures else []
    missing = sorted({k.rsplit("_", 1)[0] for k, v in res.final.items() if v is None})  # empty splits
    codes = [w.split(":")[0] for w in res.warnings]
    status = res.status + (f" with {len(codes)} warning{'s' * (len(codes) > 1)} ({', '.join(codes)})" if codes else "")
    gaps = [f"no {s} split" if s != "train" or cfg.eval_train else "training split not scored (eval_train off)"
            for s in missing]
    text = (f"run {res.run_id}: {status}; " + ", ".join(f"{k} {v:.4f}" for k, v in res.final.items()
                                                          if v is not None)
            + "".join(f"; {g}" for g in gaps) + f"; {res.steps} steps in {res.seconds:.2f} s")
    emit(args, {**res.summary(), "config": cfg.to_dict(), "figures": figures},
         text + (f"; figures in {store.run_dir(res.run_id)}" if figures else ""))
    if res.status == "diverged":
        log(f"nnstudy: {res.error}")
    for w in res.warnings:  # complete, but it learned nothing or blew up (experiment.learning_warnings)
        log(f"nnstudy: warning: {w}")
    return 0


def train_figures(store, res) -> list[str]:
    """Curves, confusion matrix, worst errors and filters of a complete run, drawn into its folder
    (`nnstudy train` and the notebook API's `train` both call this)."""
    if res.status != "complete" or not res.run_id:
        return []
    import matplotlib

    matplotlib.use("Agg")  # files only; plots.py leaves notebooks' backends alone
    from nnstudy.studies.images.figures import draw_run

    try:
        return [str(p) for p in draw_run(store, res.run_id)]
    except Exception as e:  # the run is stored and complete: a drawing failure must not hide it
        log(f"nnstudy: figures not drawn ({type(e).__name__}: {e}); the run is complete")
        return []


def cmd_recipes(args) -> int:
    from nnstudy.recipes import describe

    rows = describe()
    emit(args, {"recipes": rows}, "\n".join(f"{r['name']:<15} {r['about']}\n{'':<15} target: {r['target']}"
                                            for r in rows))
    return 0


def cmd_show_model(args) -> int:
    from nnstudy.models.summary import format_summary
    from nnstudy.recipes import summary_for

    summary, shape = summary_for(args.model, args.dataset)
    rows = [{"layer": r.name, "type": r.kind, "output": list(r.out_shape), "params": r.params, "macs": r.macs}
            for r in summary.rows]
    emit(args, {"model": args.model, "dataset": args.dataset, "input": list(shape), "params": summary.params,
                "trainable": summary.trainable, "macs": summary.macs, "layers": rows},
         f"{args.model} on {args.dataset} (input {'x'.join(map(str, shape))})\n{format_summary(summary)}")
    return 0


def runs_listing(args) -> list[dict]:
    """The runs `nnstudy runs` lists (and the notebook API's `runs`), one object a run."""
    from nnstudy import console

    if args.last is not None and args.last < 1:
        raise UsageError(f"--last {args.last}: need at least 1")
    store = open_store(args, readonly=True)
    rows = store.runs(study=args.study, kind=args.kind)
    if args.status:  # here, not in SQL: "crashed" is worked out when a run is read, never stored
        rows = [r for r in rows if r["status"] == args.status]
    return console.runs_listing(store, rows[-args.last:] if args.last else rows)


def cmd_runs(args) -> int:
    from nnstudy import console

    listing = runs_listing(args)
    emit(args, {"runs": listing}, console.runs_table(listing, colour=console.use_colour()))
    return 0


def cmd_show(args) -> int:
    from nnstudy import console

    store = open_store(args, readonly=True)
    r = store.get(args.run)
    if args.json:
        emit(args, console.show_object(store, r))
    else:
        print(console.show_page(store, r, every=args.all, colour=console.use_colour()))
    return 0


def cmd_all(args) -> int:
    from nnstudy.console import all_summary
    from nnstudy.studies import load_all, run_study

    store = open_store(args)
    done = {}
    for name in load_all().names():
        log(f"== {name} ==")
        started = time.time()
        row = run_study(name, store, args.profile, args.seeds, args.device or "auto", log=log,
                        skip_done=not args.force)
        done[name] = {"run": row["id"], "status": row["status"], "seconds": row["summary"].get("seconds"),
                      "kept": row["started"] < started}  # an earlier run of the same code, not re-run
    report = {}
    try:
        from nnstudy.report import write_report

        report = write_report(store, None)
    except ModuleNotFoundError as e:
        if e.name != "nnstudy.report":
            raise
    emit(args, {"studies": done, "report": report}, all_summary(done, report, store.home))
    return 0


def cmd_report(args) -> int:
    from nnstudy.console import report_line
    from nnstudy.report import write_report

    store = open_store(args, readonly=True)  # the report's files go to --report-dir (default STORE/report)
    paths = write_report(store, args.report_dir)
    emit(args, paths, report_line(paths))
    return 0


def cmd_sweep(args) -> int:
    from nnstudy.console import sweep_summary
    from nnstudy.sweep import grid_from_args, run_sweep

    cfgs = grid_from_args(args)
    store = open_store(args)
    summary = run_sweep(cfgs, store.home, study=args.name, jobs=args.jobs, engine=args.engine,
                        address=args.address, log=log)
    emit(args, summary, sweep_summary(summary, store.home))
    return 0


def cmd_serve(args) -> int:
    from nnstudy.serve import serve
    from nnstudy.store import default_home

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: valid: 0 to 65535")
    serve(args.out or default_home(), args.host, args.port, log=log)
    return 0


COMMANDS = {"list": cmd_list, "models": cmd_models, "run": cmd_run, "train": cmd_train, "runs": cmd_runs,
            "recipes": cmd_recipes, "show-model": cmd_show_model,
            "show": cmd_show, "all": cmd_all, "report": cmd_report, "sweep": cmd_sweep,
            "serve": cmd_serve}


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        rc = COMMANDS[args.command](args)
        sys.stdout.flush()  # here, not at exit: a closed pipe then raises where it is caught below
        return rc
    except BrokenPipeError:  # `nnstudy runs | head`: the reader has gone; stop quietly as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at shutdown
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the closed pipe
    except UsageError as e:
        print(f"nnstudy: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nnstudy: interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else 0
    except Exception:
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
