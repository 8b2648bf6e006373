"""``dlsuite``: the command line. Thin: parse, look up the app, call the runtime.

Every user error ends with one line naming what was wrong and the valid
choices, exit status 2, no traceback. TensorFlow's C++ start-up banner
(``oneDNN custom operations are on``, ``cudart_stub``...), which it writes to
stderr while it is imported whatever ``TF_CPP_MIN_LOG_LEVEL`` says, is
dropped, so that such a line is all a user sees.
"""

import argparse
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from dlsuite.apps.errors import UsageError  # noqa: E402

# Lines TensorFlow writes to stderr while it is imported.
_BANNER = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog|[IW]\d{4} [\d:. ]+\d+ "
    r"(port|cudart_stub|cpu_feature_guard|cuda_\w+)\.cc|To enable the following instructions)")


def import_tensorflow_quietly():
    """Import TensorFlow and Keras with the C++ start-up banner dropped;
    anything else they print on stderr is passed on."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        for line in capture.read().decode("utf-8", "replace").splitlines():
            if line.strip() and not _BANNER.match(line):
                print(line, file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as a UsageError (one line, exit 2)."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_training_options(command, strategy=True):
    command.add_argument("app")
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                         help="override a config field (repeatable)")
    command.add_argument("--epochs", type=_positive_int)
    if strategy:
        from dlsuite.apps.runtime.distribute import STRATEGIES

        command.add_argument("--strategy", choices=STRATEGIES, default="auto")
    from dlsuite.apps.runtime.precision import PRECISIONS

    command.add_argument("--precision", choices=PRECISIONS, default="auto")
    command.add_argument("--run-dir")
    command.add_argument("--overwrite", action="store_true",
                         help="replace an existing run in --run-dir")
    command.add_argument("--resume", metavar="RUN_DIR", help="continue a run after a crash")
    command.add_argument("--resume-if-exists", action="store_true",
                         help="continue the run in --run-dir if it holds this run, else start "
                              "it (for a cluster manager that reruns a failed command)")
    command.add_argument("--quiet", action="store_true")


def make_parser():
    parser = _Parser(prog="dlsuite", description="Deep-learning curriculum apps on Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    commands.add_parser("list", help="list the apps")

    train = commands.add_parser("train", help="train an app (or --resume a run)")
    _add_training_options(train)

    launch = commands.add_parser(
        "launch", help="train an app on N local workers (--strategy multi_worker)")
    launch.add_argument("--workers", type=_positive_int, required=True)
    launch.add_argument("--max-restarts", type=int, default=3,
                        help="restart every worker this many times after a failure")
    _add_training_options(launch, strategy=False)

    for name, text in (("evaluate", "evaluate a run's best model on dev and test"),
                       ("export", "export a run's best model as a SavedModel"),
                       ("report", "rewrite a run's report")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("run_dir")

    predict = commands.add_parser("predict", help="run a run's export on your files "
                                  "(or texts, for an app that translates)")
    predict.add_argument("run_dir")
    predict.add_argument("files", nargs="+")

    board = commands.add_parser("tensorboard", help="start TensorBoard on 127.0.0.1")
    board.add_argument("dir", nargs="?", default="runs")
    board.add_argument("--port", type=_positive_int, default=6006)
    return parser


def _run(args):
    from dlsuite.apps import registry

    if args.command == "list":
        for name in registry.names():
            app = registry.get_app(name)
            print(f"{name:12s} {app.description}")
        return 0
    if args.command == "tensorboard":
        return _tensorboard(args.dir, args.port)
    if args.command == "launch":
        return _launch(args)

    from dlsuite.apps.runtime import commands

    if args.command == "train":
        commands.train(args.app, overrides=args.set, epochs=args.epochs,
                       strategy=args.strategy, precision_name=args.precision,
                       run_dir=args.run_dir, overwrite=args.overwrite, resume=args.resume,
                       resume_if_exists=args.resume_if_exists, verbose=0 if args.quiet else 1)
    elif args.command == "evaluate":
        commands.evaluate(args.run_dir)
    elif args.command == "export":
        commands.export(args.run_dir)
    elif args.command == "report":
        commands.report(args.run_dir)
    elif args.command == "predict":
        for line in commands.predict(args.run_dir, args.files):
            print(line)
    return 0


def _launch(args):
    from dlsuite.apps import registry
    from dlsuite.apps.runtime import launch

    registry.get_app(args.app)  # an unknown app is a usage error before anything starts
    if args.resume and args.set:
        raise UsageError("--set cannot change a resumed run's config (only --epochs can)")
    run_dir = args.resume or args.run_dir or str(launch.default_run_dir(args.app))
    train_args = [item for pair in (("--set", value) for value in args.set) for item in pair]
    if args.epochs:
        train_args += ["--epochs", str(args.epochs)]
    train_args += ["--precision", args.precision]
    if args.overwrite:
        train_args.append("--overwrite")
    if args.quiet:
        train_args.append("--quiet")
    runner = launch.Launch(args.workers, args.app, train_args, run_dir,
                           max_restarts=args.max_restarts,
                           say=lambda text: print(text, flush=True))
    return runner.run(resume=bool(args.resume))


def _tensorboard(directory, port):
    if not os.path.isdir(directory):
        raise UsageError(f"{directory} is not a directory; expected runs/ or a run directory")
    logdir = os.path.join(directory, "tb") if os.path.isdir(os.path.join(directory, "tb")) else directory
    from tensorboard import program

    board = program.TensorBoard()
    board.configure(argv=[None, "--logdir", logdir, "--host", "127.0.0.1", "--port", str(port)])
    url = board.launch()
    print(f"TensorBoard at {url} (logs: {logdir}); Ctrl-C to stop", flush=True)
    try:
        import time

        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def main(argv=None):
    try:
        import_tensorflow_quietly()
        return _run(make_parser().parse_args(argv))
    except UsageError as error:
        print(f"dlsuite: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("dlsuite: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
