"""Built-in trackers, one module each. They are declared by name in
:data:`attentrack.tracker.registry.TRACKERS` and imported only when asked for; importing this
package imports none of them."""
