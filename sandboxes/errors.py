"""Backend set-up failures, translated at the seam (the CLI turns them into one `error:` line)."""


class SandboxUnavailable(RuntimeError):
    """A backend cannot run here: no engine, no image, no bubblewrap, no namespaces..."""
