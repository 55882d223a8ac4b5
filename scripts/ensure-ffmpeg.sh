#!/usr/bin/env sh
# Install ffmpeg/ffprobe where they are missing: Debian/Ubuntu as root via apt, else say how.
set -eu
if command -v ffmpeg >/dev/null 2>&1 && command -v ffprobe >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "ffmpeg is missing: installing it with apt-get"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ffmpeg
    exit 0
fi
echo "ffmpeg is missing: install it (Debian/Ubuntu: sudo apt-get install -y ffmpeg; macOS: brew install ffmpeg) and run make again" >&2
exit 1
