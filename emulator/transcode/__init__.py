"""ffmpeg side of the emulator: probe media, map a template to ffmpeg arguments, run ffmpeg."""
