"""transcode-emulator: a local emulator of the Visionular transcoding API."""

__version__ = "0.1.0"
