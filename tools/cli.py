"""The ``attentrack`` click group and the ``track`` console script.

Errors a user can cause are printed as one line (``Error: ...``) with exit status 2.
"""

from __future__ import annotations

import sys

import click

from attentrack.tools.lazy_group import LazyGroup
from attentrack.tracker.errors import AttentrackError


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "track": "attentrack.tools.track_cmd:track_command",
        "batch": "attentrack.tools.batch_cmd:batch_command",
        "bench": "attentrack.tools.bench_cmd:bench_group",
        "camera-motion": "attentrack.tools.camera_cmd:camera_motion_command",
        "eval": "attentrack.tools.eval_cmd:eval_group",
        "generate": "attentrack.tools.generate_cmd:generate_command",
        "saliency": "attentrack.tools.saliency_cmd:saliency_command",
        "train": "attentrack.tools.train_cmd:train_group",
        "weights": "attentrack.tools.weights_cmd:weights_group",
    },
    help=(
        "attentrack: video object tracking with attention models.\n\n"
        "Examples:\n\n"
        "\b\n"
        "  attentrack track clip.mp4 --model hart --init 399,182,121,229 -o out/\n"
        "  attentrack eval mot --gt GT_FOLDER --pred out/\n"
        "  attentrack models\n"
    ),
)
@click.version_option(package_name="attentrack")
def cli():
    """``attentrack``: the command group."""


@cli.command("models", help="List the registered trackers and their options.\n\nExample:\n\n  attentrack models")
@click.option("--markdown", is_flag=True, help="Print the README's models table instead.")
def models_command(markdown):
    """``attentrack models``: list the registered trackers and their options."""
    from attentrack.tools.options import models_help, models_markdown

    click.echo(models_markdown() if markdown else models_help())


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> str:
    """Warnings on the command line: ``Warning: message`` (no source location)."""
    return f"Warning: {message}\n"


def _run(command: click.Command, args=None) -> None:
    import warnings

    from attentrack.tracker.termination import SIGTERM_STATUS, Terminated, sigterm_raises, sigterm_received

    warnings.formatwarning = _one_line_warning
    try:
        with sigterm_raises():  # SIGTERM cleans up as Ctrl-C does
            rv = command.main(args=args, standalone_mode=False)
    except AttentrackError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        if isinstance(exc, Terminated) or isinstance(exc.__cause__, Terminated) or sigterm_received():
            click.echo("Terminated.", err=True)
            sys.exit(SIGTERM_STATUS)
        click.echo("Interrupted." if isinstance(exc, KeyboardInterrupt) or isinstance(exc.__cause__, KeyboardInterrupt)
                   else "Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(1)
    except MemoryError:
        click.echo("Error: out of memory (a smaller input, --max-frames or fewer --workers may fit)", err=True)
        sys.exit(2)
    except OSError as exc:
        from attentrack.tracker.atomic import WRITE_ERRNOS

        if exc.errno not in WRITE_ERRNOS:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"Error: cannot write{where}: {exc.strerror}", err=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def main(args=None) -> None:
    """Entry point of ``attentrack``."""
    _run(cli, args)


def track_main(args=None) -> None:
    """Entry point of ``track`` (the same as ``attentrack track``)."""
    from attentrack.tools.track_cmd import track_command

    _run(track_command, args)


if __name__ == "__main__":
    main()
