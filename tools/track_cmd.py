"""``attentrack track`` (also the ``track`` console script): the main job."""

from __future__ import annotations

from pathlib import Path

import click

from attentrack.tools.options import (
    PROPOSER_CHOICE,
    TRACKER_CHOICE,
    config_option,
    model_options,
    param_option,
    parse_init,
    parse_params,
    read_config,
)
from attentrack.tracker.device import DEVICE_CHOICES
from attentrack.tracker.errors import InputError

# torch and OpenCV are imported when the command runs, not here: `track --help` stays fast.

#: ``--video-format`` choices: :data:`attentrack.tracker.sinks.VIDEO_FORMATS`, spelt out here so that
#: ``--help`` does not import OpenCV
VIDEO_FORMAT_CHOICES = ("webm", "mp4", "avi", "mkv")


class _TrackCommand(click.Command):
    """``track``, whose help lists the registered models when it is shown (names only: nothing
    is imported for it)."""

    def format_help_text(self, ctx, formatter):
        from attentrack.tracker.registry import TRACKERS

        help_text = self.help
        self.help = help_text.replace("{models}", ", ".join(TRACKERS.names()))
        try:
            super().format_help_text(ctx, formatter)
        finally:
            self.help = help_text


@click.command(
    "track",
    cls=_TrackCommand,
    help=(
        "Track objects through a video, image folder, camera index or RTSP/HTTP URL.\n\n"
        "With --init, follows the given boxes (x,y,w,h in pixels of the first frame); "
        "without it, starts tracks from proposals (background subtraction for static "
        "cameras; `--init saliency`: peaks of a classifier's saliency map). Writes OUT/NAME.txt (MOTChallenge), "
        "OUT/NAME.webm (annotated: VP8 WebM, which browsers and notebooks play; OUT/NAME.mp4 where "
        "OpenCV has no VP8 encoder) and optionally JSON lines, OTB-format boxes and crops.\n\n"
        "Example:\n\n"
        "  track video.mp4 --model hart --init 399,182,121,229 -o out/\n\n"
        "Models: {models} (their options: `attentrack models`)."
    ),
)
@click.argument("source")
@click.option("-m", "--model", default="hart", show_default=True, type=TRACKER_CHOICE,
              help="Registered tracker (see `attentrack models`).")
@click.option("--init", "init", multiple=True, metavar="X,Y,W,H",
              help="Box of an object in the first frame, in pixels; repeat (or join with ';') for several; "
                   "`saliency` starts tracks from the saliency prior instead.")
@click.option("-o", "--output", "out_dir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the outputs.")
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
              help="Where the model runs; auto = CUDA when present.")
@click.option("--weights", default=None, type=click.Path(dir_okay=False), help="Model weights file (overrides the shipped ones).")
@param_option()
@click.option("--proposals", default="mog2", show_default=True, type=PROPOSER_CHOICE,
              help="Where new objects come from when there is no --init.")
@param_option("An option of the proposer, e.g. -P open_height=60 (mog2: attentrack.tracker.proposals.MOG2Proposer).",
              "-P", "--proposal-option", dest="proposal_params")
@click.option("--classifier", default="pedestrian", show_default=True,
              help="Saliency classifier for --init saliency, --proposals saliency or mog2-pedestrian and --show-saliency "
                   "(name or .pt).")
@click.option("--show-saliency", is_flag=True, help="Blend the classifier's saliency map (c-EB) into the annotated video.")
@click.option("--video/--no-video", "write_video", default=True, show_default=True, help="Write the annotated video.")
@click.option("--video-format", type=click.Choice(VIDEO_FORMAT_CHOICES), default=None,
              help="Annotated video format: webm (VP8; browsers and notebooks play it; the default where "
                   "OpenCV writes it, else mp4), mp4 (mp4v), avi or mkv (MJPG).")
@click.option("--trail", type=click.IntRange(min=0), default=0, show_default=True,
              help="Draw each track's last N positions (bottom centres) as a line; 0: none.")
@click.option("--show", is_flag=True, help="Also show the annotated frames in a window (needs a display; "
                                           "q or Esc stops like Ctrl-C).")
@click.option("--otb", is_flag=True,
              help="Also write OUT/otb/NAME.txt: the object's box per frame in OTB format (x,y,w,h lines, as the "
                   "OTB toolkit and pytracking write results; `eval sot --pred OUT/otb` scores it). One --init box only.")
@click.option("--jsonl", is_flag=True, help="Also write OUT/NAME.jsonl, one JSON object per frame.")
@click.option("--crops", is_flag=True, help="Also write OUT/NAME_crops/<id>/<frame>.jpg.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after this many frames.")
@click.option("--name", default=None, help="Base name of the outputs, a plain file name (default: the source's name).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary (for scripts).")
@click.option("--reconnect", type=click.IntRange(min=0), default=3, show_default=True,
              help="Cameras and RTSP/HTTP streams: reopen a stream that stops, up to this many tries in a row "
                   "2 s apart, then end the run and write its outputs (0: end at once). Ignored for files.")
@click.option("--fit", is_flag=True,
              help="First fit the model to this video without labels (models that can, e.g. sqair; resumable).")
@click.option("--detections", default=None, metavar="PATH|auto",
              help="Per-frame detections (MOTChallenge det.txt) that start and support tracks instead of proposals; "
                   "`auto`: SEQ/det/det.txt of the sequence folder the source is or lies in.")
@click.option("--det-threshold", type=float, default=None, metavar="SCORE",
              help="Detections scoring less are ignored (default: all; detectors' scores are not all in [0, 1]). "
                   "To keep weak ones for the objects already followed, use -r start_score=SCORE instead.")
@click.option("-r", "--runner", "runner_params", multiple=True, metavar="NAME=VALUE",
              help="A setting of the multi-object runner, e.g. -r max_lost=60 (all: attentrack.tracker.runner.RunnerSettings).")
@config_option()
def track_command(source, model, init, out_dir, device, weights, params, proposals, proposal_params, classifier,
                  show_saliency,
                  write_video, video_format, trail, show, otb, jsonl, crops, max_frames, name, quiet, reconnect, fit,
                  detections, det_threshold, runner_params, config_file):
    """``track`` / ``attentrack track``: track objects through a video, image folder, camera or stream."""
    from attentrack.tracker.atomic import check_output_name, make_folder, remove_stale_partials
    from attentrack.tracker.detections import DetectionFile, check_follows_given_objects, find_detections
    from attentrack.tracker.pipeline import run_tracking, static_camera_part
    from attentrack.tracker.proposals import create_proposer
    from attentrack.tracker.registry import PROPOSERS, TRACKERS
    from attentrack.tracker.runner import RunnerSettings, multi_object_tracker
    from attentrack.tracker.sinks import CropSink, JsonlSink, MotTxtSink, OtbSink, ShowSink, VideoSink, default_video_format
    from attentrack.tracker.sources import open_source

    if any(v.strip().lower() == "saliency" for v in init):  # --init saliency: tracks start from the saliency prior
        init, proposals = tuple(v for v in init if v.strip().lower() != "saliency"), "saliency"
    init_boxes = parse_init(init)
    if otb and (init_boxes is None or len(init_boxes) != 1):
        raise InputError("--otb writes one object's boxes: give exactly one --init box")
    if name is not None:
        check_output_name(name)
    prior = None
    if proposals == "saliency" or show_saliency:
        from attentrack.saliency.prior import SaliencyPrior, SaliencyVideoSink

        prior = SaliencyPrior(classifier, device=device)
    # bad options fail before the source is opened
    config = read_config(config_file)
    options = TRACKERS.options(model, model_options(model, {**config["model"], **parse_params(params)},
                                                    device=device, weights=weights))
    settings = RunnerSettings.from_options({**config["runner"], **parse_params(runner_params)})
    given_proposal_options = parse_params(proposal_params, "proposal option")
    proposal_options = {**config["proposals"], **given_proposal_options}
    if given_proposal_options:  # (a config file's [proposals] serve the runs that have proposals)
        why = ("--init gives the objects" if init_boxes is not None else
               "--detections give the objects" if detections is not None else
               f"model {model!r} finds its own objects" if getattr(TRACKERS.get(model), "self_starting", False)
               else None)
        if why:
            raise InputError(f"--proposal-option sets up proposals, and this run has none: {why}")
    PROPOSERS.options(proposals, dict(proposal_options))  # a bad one fails here, before the source opens
    det_file = None
    if detections is not None:
        if init_boxes is not None:
            raise InputError("give --init or --detections, not both")
        check_follows_given_objects(model, TRACKERS.get(model))  # before the source opens or a fit runs
        det_file = DetectionFile(find_detections(detections, source), score_threshold=det_threshold)
    src = open_source(source, reconnect=reconnect)
    tracker = TRACKERS.create(model, options)
    if fit:
        if not hasattr(tracker, "fit"):
            raise InputError(f"model {model!r} cannot be fitted (--fit)")
        saved = tracker.fit(source, out_dir, progress=not quiet)
        if not quiet:
            click.echo(f"fitted weights: {saved}")
    proposer = None
    if init_boxes is None and det_file is None and not getattr(tracker, "self_starting", False):
        extra = {"prior": prior} if proposals == "saliency" else {}
        if proposals == "mog2-pedestrian":
            extra = {"classifier": classifier, "device": device}
        proposer = create_proposer(proposals, proposal_options, **extra)
    runner = multi_object_tracker(tracker, proposer, settings, source=src,
                                  say=None if quiet else lambda line: click.echo(line, err=True))
    out = Path(out_dir)
    created = not out.exists()
    make_folder(out)
    remove_stale_partials(out)  # what killed runs left here
    stem = name or src.name
    sinks = []
    try:
        sinks.append(MotTxtSink(out / f"{stem}.txt"))
        if show:
            sinks.append(ShowSink(f"attentrack: {stem}", trail))
        if otb:
            sinks.append(OtbSink(out / "otb" / f"{stem}.txt"))
        if write_video:
            video = out / f"{stem}.{video_format or default_video_format()}"
            sinks.append(VideoSink(video, src.fps, src.size, trail) if not show_saliency else
                         SaliencyVideoSink(video, src.fps, src.size, prior))
        if jsonl:
            sinks.append(JsonlSink(out / f"{stem}.jsonl"))
        if crops:
            sinks.append(CropSink(out / f"{stem}_crops"))
        summary = run_tracking(src, runner, sinks, init_boxes=init_boxes, detections=det_file,
                               max_frames=max_frames, progress=not quiet,
                               static_camera_user=static_camera_part(tracker, proposals if proposer else None))
    except BaseException:
        for sink in sinks:
            sink.abort()
        if otb and (out / "otb").is_dir() and not any((out / "otb").iterdir()):
            (out / "otb").rmdir()
        if created and out.exists() and not any(out.iterdir()):
            out.rmdir()
        raise
    if not quiet:
        click.echo(
            f"{summary.source}: {summary.frames} frames, {summary.tracks} tracks, "
            f"{summary.fps:.1f} frames/s -> " + ", ".join(str(p) for p in summary.outputs)
        )

