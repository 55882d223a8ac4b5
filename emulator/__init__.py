"""transcode-emulator: a local emulator of the Visionular transcoding API."""
