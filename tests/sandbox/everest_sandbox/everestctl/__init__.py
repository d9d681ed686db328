"""everestctl emulator: a CLI acting only through the Kubernetes API of the cluster named by --kubeconfig.

Entry point: ``everest_sandbox.everestctl.cli.main(argv) -> int`` (argv without the program name), or
``python -m everest_sandbox.everestctl ...``. Behaviour follows reference §1-§5, §7-§8 (docs/reference/everest.md).
"""
