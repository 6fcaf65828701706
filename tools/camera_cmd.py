"""``attentrack camera-motion``: does a video's camera move? Background subtraction needs it
not to."""

from __future__ import annotations

import click

from attentrack.tracker.camera_motion import CHECK_PAIRS, MOVING_STILL_SHARE, STILL_SHIFT, WORK_SIDE
from attentrack.tracker.tables import markdown_lines


def measure_source(spec: str, pairs: int = CHECK_PAIRS):
    """The :class:`attentrack.tracker.camera_motion.CameraMotionCheck` of a source, fed frames until it
    has ``pairs`` usable frame pairs or the source ends (undecided: no usable pair).

    Raises:
        InputError: an unreadable source or one without frames (from :func:`attentrack.tracker.sources.open_source`).
    """
    from attentrack.tracker.camera_motion import CameraMotionCheck
    from attentrack.tracker.sources import open_source

    check = CameraMotionCheck(pairs=pairs)
    check.feed(frame for _, frame in open_source(spec))  # open_source refuses a source without frames
    return check


@click.command(
    "camera-motion",
    help=(
        "Tell, for each video, whether its camera moves: the share of corner features that "
        "stay still between consecutive frames, over the first frames (a static camera's "
        "background keeps many still while people walk by). Background subtraction "
        "(the blobs baseline, MOG2 proposals, SQAIR's CCTV mode) needs a static camera; "
        "`track` warns when it sees a moving one.\n\n"
        "Example:\n\n"
        "  attentrack camera-motion cctv.mp4 dashcam.mp4"
    ),
)
@click.argument("sources", nargs=-1, required=True)
@click.option("--pairs", type=click.IntRange(min=1), default=CHECK_PAIRS, show_default=True,
              help="Consecutive frame pairs to look at.")
def camera_motion_command(sources, pairs):
    """``attentrack camera-motion``: tell, for each video, whether its camera moves."""
    rows = []
    for spec in sources:
        check = measure_source(spec, pairs)
        if check.still_share is None:
            rows.append((spec, "0", "-", "-", "undecided (too few corners)"))
        else:
            rows.append((spec, str(check.pairs_seen), f"{100 * check.still_share:.0f}%",
                         f"{check.shift * WORK_SIDE:.2f}", "moving" if check.moving else "static"))
    head = ["source", "pairs", "still corners", f"median shift px/frame @{WORK_SIDE}", "camera"]
    click.echo("\n".join(markdown_lines(head, rows, align="left")))
    click.echo(f"(still: a corner moving less than {STILL_SHIFT * WORK_SIDE:.1f} px a frame; "
               f"moving: fewer than {100 * MOVING_STILL_SHARE:.0f}% still)")
