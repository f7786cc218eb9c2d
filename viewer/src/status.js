/**
 * Loading state: the "Loading tiles…" chip and `body[data-tiles-loaded]` for tests.
 *
 * After every rendered frame it checks whether all tilesets have loaded what the current view
 * needs. `data-tiles-loaded="true"` means: the initial camera flight is over and every visible
 * tile is in; it flips back to "false" while the camera reveals new tiles, and is "error" when
 * the city could not be loaded at all.
 */

/**
 * @typedef {object} LoadingTracker
 * @property {(tilesets: object[]) => void} setTilesets start watching these tilesets
 * @property {() => void} setSettled the initial camera flight has finished
 * @property {(message: string, state?: string) => void} fail show a message instead of the
 *   spinner and set `data-tiles-loaded` to `state` ("error" unless told)
 */

/**
 * Track tile streaming and reflect it in `statusEl` and `document.body.dataset.tilesLoaded`.
 *
 * @param {object} scene the Cesium scene (its `postRender` event drives the checks)
 * @param {HTMLElement} statusEl the `#status` chip
 * @returns {LoadingTracker}
 */
export function trackLoading(scene, statusEl) {
  const text = statusEl.querySelector(".status__text");
  /** @type {Map<object, number>} tiles requested or processing, per tileset */
  const pending = new Map();
  let settled = false;
  let failed = false;
  document.body.dataset.tilesLoaded = "false";
  statusEl.hidden = false;

  let everLoaded = false;
  scene.postRender.addEventListener(() => {
    // User Timing marks for scripts/bench_viewer.py (and the browser's performance panel).
    if (performance.getEntriesByName("twin:first-frame").length === 0) {
      performance.mark("twin:first-frame");
    }
    if (failed) return;
    const tilesets = [...pending.keys()];
    const loaded = settled && tilesets.length > 0 && tilesets.every((t) => t.tilesLoaded);
    const flag = String(loaded);
    if (document.body.dataset.tilesLoaded !== flag) document.body.dataset.tilesLoaded = flag;
    if (loaded && !everLoaded) {
      everLoaded = true;
      performance.mark("twin:tiles-loaded");
    }

    let count = 0;
    for (const n of pending.values()) count += n;
    const label = tilesets.length ? `Loading tiles… ${count || ""}`.trim() : "Loading city…";
    if (statusEl.hidden !== loaded) statusEl.hidden = loaded;
    if (text.textContent !== label) text.textContent = label;
  });

  return {
    setTilesets(tilesets) {
      for (const tileset of tilesets) {
        pending.set(tileset, 0);
        const remove = tileset.tileVisible.addEventListener(() => {
          remove();
          if (performance.getEntriesByName("twin:first-tile").length === 0) {
            performance.mark("twin:first-tile");
          }
        });
        tileset.loadProgress.addEventListener((requests, processing) => {
          pending.set(tileset, requests + processing);
        });
      }
    },
    setSettled() {
      settled = true;
      scene.requestRender(); // re-check even if every tile was in before the camera stopped
    },
    fail(message, state = "error") {
      failed = true;
      statusEl.classList.toggle("status--error", state === "error");
      statusEl.classList.add("status--message");
      statusEl.hidden = false;
      text.textContent = message;
      document.body.dataset.tilesLoaded = state;
    },
  };
}

/**
 * Call `callback` once tiles have loaded in any of `tilesets`, at most every `ms` milliseconds
 * (a burst of tile loads makes one call, `ms` after its first tile).
 *
 * @param {{tileLoad: {addEventListener: (listener: () => void) => void}}[]} tilesets
 * @param {number} ms
 * @param {() => void} callback
 */
export function afterTileLoads(tilesets, ms, callback) {
  let timer = null;
  for (const tileset of tilesets) {
    tileset.tileLoad.addEventListener(() => {
      timer ??= setTimeout(() => {
        timer = null;
        callback();
      }, ms);
    });
  }
}
