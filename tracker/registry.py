"""One registry for every pluggable kind of attentrack: trackers, backbones, glimpse readers,
proposal sources, saliency methods, generative models and batch backends.

Each kind is a :class:`Registry` (the instances at the end of this module). Entries come from
three places, all with the same rules:

* built-in entries, declared here as ``"module.path:ClassName"`` strings and imported only when
  that entry is asked for (listing names imports nothing, so ``--help`` stays fast);
* classes that register themselves: subclassing a kind's base class with an id (e.g.
  ``tracker_id = "x"`` on a :class:`attentrack.tracker.base.Tracker`) calls
  :meth:`Registry.register_subclass`;
* entry points of installed packages, read lazily, one group per kind (``attentrack.trackers``,
  ``attentrack.backbones``, ``attentrack.glimpses``, ``attentrack.proposers``,
  ``attentrack.saliency``, ``attentrack.generative``, ``attentrack.backends``): a third-party
  package adds a tracker by declaring, in its ``pyproject.toml``::

      [project.entry-points."attentrack.trackers"]
      my-tracker = "my_package.tracker:MyTracker"

Duplicates: registering a different class under a taken id is a one-line
:class:`RegistryError`; registering the same class again (same module and qualified name) does
nothing. A declared id (built-in or entry point) belongs to the class it names, so declare a
class by the module that defines it. Asking for an unknown name is an :class:`InputError`
listing the choices.

Constructor options (``-p NAME=VALUE`` on the command line) come from the ``__init__`` signature
and its Google-style docstring (:func:`class_params`; an ``__init__`` that takes ``**options``
and hands them to its base offers the base's options too); :meth:`Registry.create` converts text
values by the annotations and rejects unknown names.

This module imports nothing heavy (no torch, OpenCV or NumPy).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from dataclasses import dataclass, field
from typing import Any, Iterator

from attentrack.tracker.errors import AttentrackError, InputError


class RegistryError(AttentrackError, RuntimeError):
    """Two different classes claim one id, or a declared entry cannot be loaded."""


@dataclass
class ParamInfo:
    """One constructor parameter of a registered class, as the command line shows it."""

    name: str
    annotation: Any
    default: Any
    help: str = ""
    choices: tuple = field(default_factory=tuple)


def qualified_name(obj) -> str:
    """``"module.path:Qualified.Name"`` of a class (the form entries are declared in)."""
    return f"{obj.__module__}:{obj.__qualname__}"


def load_target(target: str):
    """Import ``"module.path:Qualified.Name"`` and return the object it names.

    Raises:
        ImportError, AttributeError: the module or the name does not exist.
    """
    module, sep, qualname = target.partition(":")
    if not sep or not module or not qualname:
        raise ValueError(f"{target!r} is not of the form 'module.path:ClassName'")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class Registry:
    """The named classes of one kind.

    Args:
        kind: what an entry is, in messages (``"tracker"``, ``"backbone"``, ...).
        group: the entry-point group third-party packages declare entries in.
        id_attr: the class attribute that holds a subclass's id (``tracker_id``, ...).
        builtins: ``{name: "module.path:ClassName"}`` entries imported on first use.
        noun: the word for an entry in user-facing errors (default: ``kind``; ``"model"``
            for trackers, as the command line calls them).
    """

    def __init__(self, kind: str, group: str, id_attr: str, builtins: dict[str, str] | None = None,
                 noun: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self.id_attr = id_attr
        self.noun = noun or kind
        self._declared: dict[str, str] = {}
        self._classes: dict[str, type] = {}
        self._plugins: dict[str, tuple[str, str]] | None = None  # name -> (target, distribution)
        for name, target in (builtins or {}).items():
            self.declare(name, target)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"

    # -- adding entries ------------------------------------------------------------------

    def declare(self, name: str, target: str) -> None:
        """Add a lazy entry: ``target`` (``"module.path:ClassName"``) is imported when ``name``
        is first asked for.

        Raises:
            RegistryError: ``name`` is already declared as another target.
        """
        module, sep, qualname = target.partition(":")
        if not sep or not module or not qualname:
            raise RegistryError(f"{self.kind} {name!r}: {target!r} is not of the form 'module.path:ClassName'")
        old = self._declared.get(name)
        if old is not None and old != target:
            raise RegistryError(f"{self.kind} id {name!r} is declared twice: {old} and {target}")
        self._declared[name] = target

    def register(self, name: str, cls: type) -> type:
        """Register ``cls`` under ``name`` (returns ``cls``, so it works as a decorator's body).

        Raises:
            RegistryError: another class (by module and qualified name) holds ``name``.
        """
        path = qualified_name(cls)
        old = self._classes.get(name)
        if old is not None:
            if old is not cls and qualified_name(old) != path:
                raise RegistryError(f"{self.kind} id {name!r} registered twice: {qualified_name(old)} and {path}")
            return old  # the same class again (a module imported twice): nothing to do
        owner = self._declared.get(name) or self._entry_points().get(name, (None,))[0]
        if owner is not None and owner != path:  # a declared id belongs to the declared class
            raise RegistryError(f"{self.kind} id {name!r} registered twice: {owner} and {path}")
        self._classes[name] = cls
        return cls

    def register_subclass(self, cls: type) -> None:
        """Register ``cls`` under its own id attribute (``cls.<id_attr>`` set in its class body);
        a class without one is not registered. Called by the kinds' ``__init_subclass__``."""
        name = cls.__dict__.get(self.id_attr, "")
        if name:
            self.register(name, cls)

    def unregister(self, name: str) -> None:
        """Forget a class registered at run time (built-in and entry-point declarations stay)."""
        self._classes.pop(name, None)

    def refresh(self) -> None:
        """Read the entry points again at the next look-up (after installing a package)."""
        self._plugins = None

    # -- looking entries up ----------------------------------------------------------------

    def _entry_points(self) -> dict[str, tuple[str, str]]:
        if self._plugins is None:
            plugins: dict[str, tuple[str, str]] = {}
            for ep in importlib.metadata.entry_points(group=self.group):
                dist = getattr(getattr(ep, "dist", None), "name", None) or "an installed package"
                old = plugins.get(ep.name)
                if old is not None and old[0] != ep.value:
                    raise RegistryError(f"{self.kind} id {ep.name!r} registered twice by entry points: "
                                        f"{old[0]} ({old[1]}) and {ep.value} ({dist})")
                declared = self._declared.get(ep.name)
                if declared is not None and declared != ep.value:
                    raise RegistryError(f"{self.kind} id {ep.name!r} of {dist} ({ep.value}) is taken by "
                                        f"the built-in {declared}")
                plugins[ep.name] = (ep.value, dist)
            self._plugins = plugins
        return self._plugins

    def names(self) -> list[str]:
        """Every entry's name, sorted; imports nothing."""
        return sorted(set(self._declared) | set(self._classes) | set(self._entry_points()))

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self.names()

    def target(self, name: str) -> str | None:
        """Where ``name`` lives (``"module.path:ClassName"``) without importing it; ``None`` when
        unknown."""
        if name in self._classes:
            return qualified_name(self._classes[name])
        if name in self._declared:
            return self._declared[name]
        plugin = self._entry_points().get(name)
        return plugin[0] if plugin else None

    def unknown_message(self, name: str) -> str:
        """The one-line error for an unknown ``name``, listing the choices."""
        return f"unknown {self.noun} {name!r}; available: {', '.join(self.names()) or 'none'}"

    def check(self, name: str) -> str:
        """Return ``name`` when it is registered (imports nothing).

        Raises:
            InputError: an unknown name (the message lists the choices).
        """
        if name not in self.names():
            raise InputError(self.unknown_message(name))
        return name

    def get(self, name: str) -> type:
        """The class registered as ``name``, importing its module on first use.

        Raises:
            InputError: an unknown name (the message lists the choices).
            RegistryError: the declared module or class cannot be loaded, or loading it
                registered another class under ``name``.
        """
        cls = self._classes.get(name)
        if cls is not None:
            return cls
        target = self.target(name)
        if target is None:
            raise InputError(self.unknown_message(name))
        try:
            obj = load_target(target)
        except (ImportError, AttributeError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise RegistryError(f"cannot load {self.kind} {name!r} from {target}: {first}") from exc
        if not isinstance(obj, type):
            raise RegistryError(f"{self.kind} {name!r}: {target} is not a class")
        registered = self._classes.setdefault(name, obj)  # the import may have registered it already
        if registered is not obj:
            raise RegistryError(f"{self.kind} id {name!r} registered twice: {target} and {qualified_name(registered)}")
        return obj

    def __getitem__(self, name: str) -> type:
        if name not in self.names():
            raise KeyError(name)
        return self.get(name)

    def classes(self) -> dict[str, type]:
        """``{name: class}`` of every entry, sorted by name (imports them all)."""
        return {name: self.get(name) for name in self.names()}

    # -- building entries ------------------------------------------------------------------

    def params(self, name: str) -> list[ParamInfo]:
        """The constructor options of entry ``name`` (see :func:`class_params`)."""
        return class_params(self.get(name))

    def options(self, name: str, options: dict[str, Any] | None) -> dict[str, Any]:
        """``options`` checked against entry ``name``'s constructor: ``-`` in names read as
        ``_``, text values converted by the parameter's annotation. Numbers must be finite and
        not negative, except the options a class names in its ``signed_options``.

        Raises:
            InputError: an option the constructor does not take, a value of the wrong type, a
                non-finite number, or a negative one.
        """
        params = {p.name: p for p in self.params(name)}
        signed = set(getattr(self.get(name), "signed_options", ()))
        kwargs = {}
        for key, value in (options or {}).items():
            key = key.replace("-", "_")
            if key not in params:
                valid = ", ".join(sorted(params)) or "none"
                raise InputError(f"{self.noun} {name!r} has no option {key!r}; its options: {valid}")
            if isinstance(value, str):
                value = coerce_option(value, params[key].annotation, key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if value != value or value in (float("inf"), float("-inf")):
                    raise InputError(f"option {key}={value} of {self.noun} {name!r} must be a finite number")
                if value < 0 and key not in signed:
                    raise InputError(f"option {key}={value} of {self.noun} {name!r} must not be negative")
            kwargs[key] = value
        return kwargs

    def create(self, name: str, options: dict[str, Any] | None = None, **fixed: Any):
        """Build entry ``name``.

        Args:
            name: a registered name (see :meth:`names`).
            options: constructor keyword arguments from a user (``-p NAME=VALUE``): checked and
                converted by :meth:`options`.
            **fixed: further keyword arguments from the program, passed as they are.
        """
        cls = self.get(name)
        return cls(**self.options(name, options), **fixed)

    def describe(self, skip: tuple[str, ...] = ()) -> str:
        """One line per entry: ``name: summary [options: a=1, b=2]`` (imports them all).

        Args:
            skip: parameters not to list (e.g. ``("device",)``, which has its own flag).
        """
        lines = []
        for name, cls in self.classes().items():
            summary = getattr(cls, "summary", "") or (inspect.getdoc(cls) or "").split("\n")[0]
            opts = ", ".join(f"{p.name}={p.default!r}" for p in class_params(cls) if p.name not in skip)
            lines.append(f"{name}: {summary}" + (f" [options: {opts}]" if opts else ""))
        return "\n".join(lines)


def class_params(cls: type) -> list[ParamInfo]:
    """The keyword parameters of ``cls.__init__`` with their docstring help (Google style, from
    the ``__init__`` docstring or the class's). An ``__init__`` that takes ``**options`` passes
    them on to its base class: the base's parameters are then options too."""
    doc_help = _docstring_args(inspect.getdoc(cls.__init__) or "") | _docstring_args(inspect.getdoc(cls) or "")
    hints = _resolved_hints(cls.__init__)
    params, passes_on = [], False
    for p in inspect.signature(cls.__init__).parameters.values():
        passes_on |= p.kind == p.VAR_KEYWORD
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        params.append(ParamInfo(name=p.name, annotation=hints.get(p.name, str),
                                default=None if p.default is inspect.Parameter.empty else p.default,
                                help=doc_help.get(p.name, "")))
    base = next((b for b in cls.__mro__[1:] if "__init__" in vars(b)), object)
    if passes_on and base is not object:
        own = {p.name for p in params}
        params += [p for p in class_params(base) if p.name not in own]
    return params


def _resolved_hints(func) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolved forward references: fall back to strings
        return dict(getattr(func, "__annotations__", {}))


def _docstring_args(doc: str) -> dict[str, str]:
    """Parse the ``Args:`` section of a Google-style docstring into ``{name: help}``."""
    out: dict[str, str] = {}
    in_args = False
    current = None
    for line in doc.splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if in_args:
            if stripped and not line.startswith(" ") and stripped.endswith(":"):
                break
            if not stripped:
                continue
            indent = len(line) - len(line.lstrip())
            if ":" in stripped and indent <= 4:
                name, _, text = stripped.partition(":")
                current = name.split("(")[0].strip()
                out[current] = text.strip()
            elif current:
                out[current] += " " + stripped
    return out


def coerce_option(value: str, annotation: Any, name: str):
    """Convert an option's text ``value`` to its ``annotation`` (``bool``, ``int`` or ``float``,
    as a type or its name; ``1/true/yes/on`` and ``0/false/no/off`` for booleans); other
    annotations keep the text. A bad value is an :class:`InputError` naming ``name``."""
    ann = annotation
    text = ann.__name__ if isinstance(ann, type) else str(ann)
    try:
        if ann is bool or text == "bool":
            low = value.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if ann is int or text == "int":
            return int(value)
        if ann is float or text == "float":
            return float(value)
    except ValueError:
        raise InputError(f"option {name}={value!r} is not a valid {text}") from None
    return value


# -- the kinds -----------------------------------------------------------------------------
# Entries living outside the tracking core (the face-attention tracker, the saliency proposal
# source) are not declared here: attentrack's own pyproject.toml declares them as entry points,
# exactly as a third-party package would.

TRACKERS = Registry("tracker", "attentrack.trackers", "tracker_id", noun="model", builtins={
    "blobs": "attentrack.tracker.trackers.blobs:BlobTracker",
    "hart": "attentrack.tracker.trackers.hart:HARTTracker",
    "mil": "attentrack.tracker.trackers.mil:MILTracker",
    "sqair": "attentrack.tracker.trackers.sqair:SQAIRTracker",
    "static": "attentrack.tracker.trackers.static:StaticTracker",
})

BACKBONES = Registry("backbone", "attentrack.backbones", "backbone_id", builtins={
    "alexnet": "attentrack.tracker.backbones.alexnet:AlexNetBackbone",
    "resnet18": "attentrack.tracker.backbones.resnet:ResNet18Backbone",
    "small": "attentrack.tracker.backbones.small:SmallBackbone",
})

GLIMPSE_READERS = Registry("glimpse reader", "attentrack.glimpses", "reader_id", builtins={
    "gaussian": "attentrack.tracker.attention.filterbank:GaussianGlimpse",
    "stn": "attentrack.tracker.attention.spatial_transformer:SpatialTransformerGlimpse",
})

PROPOSERS = Registry("proposal source", "attentrack.proposers", "proposer_id", builtins={
    "mog2": "attentrack.tracker.proposals:MOG2Proposer",
})

SALIENCY_METHODS = Registry("saliency method", "attentrack.saliency", "method_id", builtins={
    "ceb": "attentrack.saliency.engine:ContrastiveExcitationBackprop",
    "centre": "attentrack.saliency.engine:Centre",
    "eb": "attentrack.saliency.engine:ExcitationBackprop",
    "grad": "attentrack.saliency.engine:Gradient",
    "gradcam": "attentrack.saliency.engine:GradCAM",
})

GENERATIVE_MODELS = Registry("generative model", "attentrack.generative", "model_id", builtins={
    "aligndraw": "attentrack.generative.aligndraw:AlignDRAW",
    "digit-classifier": "attentrack.generative.classifier:DigitClassifier",
    "draw": "attentrack.generative.draw:DRAW",
})

BACKENDS = Registry("backend", "attentrack.backends", "backend_id", builtins={
    "local": "attentrack.tracker.batch.local:LocalBackend",
    "ray": "attentrack.tracker.batch.ray_cluster:RayBackend",
})

#: every kind, by its entry-point group
REGISTRIES = {r.group: r for r in (TRACKERS, BACKBONES, GLIMPSE_READERS, PROPOSERS, SALIENCY_METHODS,
                                   GENERATIVE_MODELS, BACKENDS)}
