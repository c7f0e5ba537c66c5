"""What every layer shares: errors, the config, the project's folders, fonts, how figures are written, where figures
come from, and which files a section read. Imports nothing else of the package."""
