"""A click group whose subcommands are imported when they are first needed.

Subcommands are given as ``{name: "module.path:attribute"}``; a subcommand's module is imported
only when that subcommand runs or its help is shown (``attentrack --help`` imports the command
modules for their one-line help, which is why those modules keep torch and OpenCV imports
inside their functions).
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """A :class:`click.Group` with subcommands loaded on demand.

    Args:
        lazy_commands: ``{name: "module.path:attribute"}``; the attribute is a
            :class:`click.Command` (or group), added under ``name`` when first asked for.
    """

    def __init__(self, *args, lazy_commands: dict[str, str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = {}
        for name, target in (lazy_commands or {}).items():
            self.add_lazy_command(name, target)

    def add_lazy_command(self, name: str, target: str) -> None:
        """Add subcommand ``name``, the command at ``target`` (``"module.path:attribute"``)."""
        module, sep, attr = target.partition(":")
        if not sep or not module or not attr:
            raise ValueError(f"lazy command {name!r}: {target!r} is not of the form 'module.path:attribute'")
        self.lazy_commands[name] = target

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The eager and the lazy subcommands' names, sorted."""
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The subcommand ``cmd_name``, importing its module on first use (``None`` when unknown)."""
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in self.lazy_commands:
            cmd = self._load(cmd_name)
        return cmd

    def _load(self, name: str) -> click.Command:
        module, _, attr = self.lazy_commands[name].partition(":")
        cmd = getattr(importlib.import_module(module), attr)
        if not isinstance(cmd, click.Command):
            raise TypeError(f"lazy command {name!r}: {self.lazy_commands[name]} is not a click command")
        self.add_command(cmd, name)
        return cmd


class DefaultGroup(LazyGroup):
    """A lazy group that runs ``default_command`` when the first argument is not a subcommand
    (``attentrack bench CLIP`` is ``attentrack bench track CLIP``)."""

    default_command = "track"

    def parse_args(self, ctx, args):
        """Parse ``args``, running the default subcommand when the first argument is not one."""
        if args and args[0] not in self.list_commands(ctx) and args[0] not in ("--help", "-h"):
            args = [self.default_command, *args]
        elif not args:
            args = [self.default_command]
        return super().parse_args(ctx, args)
