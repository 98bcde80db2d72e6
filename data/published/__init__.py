"""Published result tables shipped as package data (see README.md in this folder)."""
