"""Views: one catalogue from an `Analysis` and settings to pictures and Markdown, for the CLI, the app and notebooks."""
