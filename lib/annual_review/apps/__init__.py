"""What people run: the command line, the live preview, workspaces of many bodies, and the project scaffolds."""
