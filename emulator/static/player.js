// Attach each <video data-kind data-src> of the task page: HLS through the vendored hls.js
// (or the browser's own HLS support), DASH through the vendored dash.js, MP4 natively.
"use strict";
(function () {
  function say(video, text, bad) {
    const out = video.closest("figure").querySelector(".player-state");
    if (!out) return;
    out.textContent = text;
    out.classList.toggle("bad", !!bad);
  }

  function attach(video) {
    const kind = video.dataset.kind;
    const src = video.dataset.src;
    video.addEventListener("loadedmetadata", () => {
      say(video, video.videoWidth + "×" + video.videoHeight + ", " + video.duration.toFixed(2) + " s");
    });
    video.addEventListener("error", () => say(video, "the browser could not play this output", true));
    if (kind === "hls") {
      if (window.Hls && window.Hls.isSupported()) {
        const hls = new window.Hls();
        hls.on(window.Hls.Events.ERROR, (event, data) => {
          if (data.fatal) say(video, "hls.js: " + data.details, true);
        });
        hls.loadSource(src);
        hls.attachMedia(video);
        video.dataset.engine = "hls.js";
      } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = src;
        video.dataset.engine = "native";
      } else {
        say(video, "this browser cannot play HLS", true);
      }
    } else if (kind === "dash") {
      if (window.dashjs) {
        const player = window.dashjs.MediaPlayer().create();
        player.on("error", (e) => say(video, "dash.js: " + ((e.error && e.error.message) || "error"), true));
        player.initialize(video, src, false);
        video.dataset.engine = "dash.js";
      } else {
        say(video, "dash.js did not load", true);
      }
    } else {
      video.src = src;
      video.dataset.engine = "native";
    }
  }

  document.querySelectorAll("video[data-kind]").forEach(attach);
})();
