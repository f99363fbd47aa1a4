"""The Discord front end: slash commands, mentions and threads over the same `NewsBot.ask()`."""
