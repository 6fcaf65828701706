"""Click helpers shared by the commands: choices and ``-p NAME=VALUE`` options from the
registries (:mod:`attentrack.tracker.registry`), box parsing.

Nothing here imports a registered class until a command runs: choices list names only.
"""

from __future__ import annotations

import click

from attentrack.tracker.errors import InputError
from attentrack.tracker.registry import BACKENDS, PROPOSERS, SALIENCY_METHODS, TRACKERS, Registry


class RegistryChoice(click.ParamType):
    """A click type that accepts the names of one registry (read when needed: defining an
    option with it imports nothing and reads no entry point).

    Args:
        registry: the kind whose names are accepted.
        exclude: names not offered here (e.g. a baseline a command has no use for).
    """

    def __init__(self, registry: Registry, exclude: tuple[str, ...] = ()) -> None:
        self.registry = registry
        self.exclude = tuple(exclude)
        self.name = registry.kind

    @property
    def choices(self) -> list[str]:
        """The accepted names, sorted."""
        return [n for n in self.registry.names() if n not in self.exclude]

    def get_metavar(self, param, ctx=None) -> str:
        """The choices as ``[a|b|c]`` in usage lines."""
        return "[" + "|".join(self.choices) + "]"

    def convert(self, value, param, ctx):
        """``value`` when it is a name here.

        Raises:
            InputError: an unknown name (one line listing the choices, like every error a user
                can cause; not a click usage error).
        """
        if value in self.choices:
            return value
        raise InputError(f"unknown {self.registry.noun} {value!r}; available: {', '.join(self.choices) or 'none'}")

    def shell_complete(self, ctx, param, incomplete):
        """The names that start with ``incomplete``, for shell completion."""
        from click.shell_completion import CompletionItem

        return [CompletionItem(n) for n in self.choices if n.startswith(incomplete)]

    def __repr__(self) -> str:
        return f"RegistryChoice({self.registry.kind!r})"


#: ``--model`` of the commands that run trackers
TRACKER_CHOICE = RegistryChoice(TRACKERS)
#: ``--proposals``
PROPOSER_CHOICE = RegistryChoice(PROPOSERS)
#: ``--backend`` of ``batch``
BACKEND_CHOICE = RegistryChoice(BACKENDS)
#: saliency methods that explain a class (``centre``, the baseline, explains nothing)
SALIENCY_CHOICE = RegistryChoice(SALIENCY_METHODS, exclude=("centre",))


#: ``--data``: the data folder of real sequences, faces, digits ...
DATA_OPTION = click.option("--data", default="", type=click.Path(),
                           help="Data folder (default: ../shared/data or $ATTENTRACK_DATA).")
#: ``--seed`` of every command that draws at random
SEED_OPTION = click.option("--seed", default=0, show_default=True, type=int)
#: ``--threads``: torch's CPU threads
THREADS_OPTION = click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
                              help="Torch CPU threads.")


def param_option(help: str = "A model option (see `attentrack models`).", *names: str, dest: str = "params"):
    """The repeatable ``-p/--param NAME=VALUE`` option (read with :func:`parse_params`, checked
    against a registered class with :meth:`Registry.options
    <attentrack.tracker.registry.Registry.options>`)."""
    return click.option(*(names or ("-p", "--param")), dest, multiple=True, metavar="NAME=VALUE", help=help)


def parse_init(values: tuple[str, ...]):
    """``--init`` values (each ``x,y,w,h``, or several joined by ``;``) -> ``(N, 4)`` boxes
    (a NumPy array), or ``None`` when there are none."""
    import numpy as np

    from attentrack.tracker.boxes import parse_box

    boxes = []
    for value in values:
        for part in value.split(";"):
            if part.strip():
                boxes.append(parse_box(part.strip()))
    return np.asarray(boxes) if boxes else None


def parse_params(values: tuple[str, ...], what: str = "model option") -> dict[str, str]:
    """``-p NAME=VALUE`` pairs -> dict (``-`` in names read as ``_``).

    Raises:
        InputError: a value that is not ``NAME=VALUE`` (one line, naming ``what`` it is).
    """
    out = {}
    for value in values:
        name, sep, val = value.partition("=")
        if not sep or not name.strip():
            raise InputError(f"{what} {value!r} must look like NAME=VALUE")
        out[name.strip().replace("-", "_")] = val.strip()
    return out


#: the tables a ``--config`` file may hold: model options, runner settings, proposer options
CONFIG_TABLES = ("model", "runner", "proposals")


def config_option(flags: dict[str, str] | None = None):
    """The ``--config FILE`` option: settings read with :func:`read_config`.

    Args:
        flags: ``{table: the command's option for the same settings}`` of the tables the
            command takes (default: ``model`` -p, ``runner`` -r, ``proposals`` -P).
    """
    flags = flags or {"model": "-p", "runner": "-r", "proposals": "-P"}
    tables = ", ".join(f"[{t}] (as {f})" for t, f in flags.items())
    return click.option(
        "--config", "config_file", default=None, type=click.Path(dir_okay=False), metavar="FILE",
        help=f"Settings file (INI) with NAME = VALUE lines in the tables {tables}; the command line overrides it.")


def read_config(path: str | None, tables: tuple[str, ...] = CONFIG_TABLES) -> dict[str, dict[str, str]]:
    """The ``NAME = VALUE`` settings of a ``--config`` file, per table.

    Tables ``model``, ``runner`` and ``proposals`` (each missing one empty); names are read as
    :func:`parse_params` reads them::

        [runner]
        max_lost = 60
        [proposals]
        open_height = 60

    Args:
        path: the file, or None (no file: every table empty).
        tables: the tables this command takes.

    Raises:
        InputError: a missing or unreadable file, a syntax error, or a table the command does
            not take (one line naming the file).
    """
    import configparser

    out: dict[str, dict[str, str]] = {t: {} for t in tables}
    if path is None:
        return out
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    parser.optionxform = str  # names keep their case
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except FileNotFoundError:
        raise InputError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config file {path}: {exc}") from None
    except configparser.Error as exc:
        raise InputError(f"config file {path}: {' '.join(str(exc).split())}") from None
    for table in parser.sections():
        if table not in tables:
            raise InputError(f"config file {path}: no table [{table}] here; this command takes "
                             + ", ".join(f"[{t}]" for t in tables))
        out[table] = {name.strip().replace("-", "_"): value.strip() for name, value in parser.items(table)}
    return out


def models_help() -> str:
    """One line per registered model, with its options (from ``__init__`` signatures; imports
    every tracker)."""
    return TRACKERS.describe(skip=("device",))


def models_markdown() -> str:
    """The README's models table: one row per registered tracker (name, summary, model card;
    imports every tracker). ``tests/packaging/test_readme.py`` checks that the README holds it."""
    from attentrack.tracker.tables import markdown_lines

    rows = []
    for name, cls in TRACKERS.classes().items():
        card = getattr(cls, "model_card", "")
        rows.append([f"`{name}`", cls.summary or (cls.__doc__ or "").strip().splitlines()[0],
                     f"[card]({card})" if card else "-"])
    return "\n".join(markdown_lines(["tracker", "what", "weights"], rows, align="left"))


def model_options(name: str, params: dict[str, str], device: str | None = None, weights: str | None = None) -> dict:
    """The constructor options for model ``name``: ``-p`` pairs plus ``--device`` and
    ``--weights`` where the model takes them (an error when it does not take weights)."""
    accepted = {p.name for p in TRACKERS.params(name)}
    opts = dict(params)
    if device is not None and "device" in accepted:
        opts.setdefault("device", device)
    if weights:
        if "weights" not in accepted:
            raise InputError(f"model {name!r} takes no weights")
        opts["weights"] = weights
    return opts
