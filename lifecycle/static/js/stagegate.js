/* Stagegate UI behaviour (progressive enhancement; every form also works without it).
 *
 * - drop a file onto the upload drop zone -> it becomes the form's file input value;
 * - upload progress bar from htmx's htmx:xhr:progress event;
 * - errors htmx does not swap (413, 500, network) are announced in a message next to the
 *   form that asked (else at the top of the page);
 * - after a swap, focus moves to the first [data-focus-on-swap] element (flash or findings).
 *
 * No inline handlers or eval anywhere, so a strict Content-Security-Policy can be added.
 */
(function () {
  "use strict";

  // with this script running, the drop zone hides the native file input behind its label
  // (stagegate.css: .js .dropzone__input); without it the input shows the chosen file itself
  document.documentElement.classList.add("js");

  // a byte count for people, 1024-based with IEC units (as policies/wording.py file_size)
  function fileSize(bytes) {
    if (bytes < 1024) return bytes + (bytes === 1 ? " byte" : " bytes");
    var units = ["KiB", "MiB", "GiB"], value = bytes, unit = units[0];
    for (var i = 0; i < units.length; i++) {
      value /= 1024;
      unit = units[i];
      if (value < 1024) break;
    }
    return value.toFixed(1) + " " + unit;
  }

  function fileLabel(input) {
    var zone = input.closest("[data-dropzone]");
    var out = zone && zone.querySelector("[data-dropzone-file]");
    if (!out) return;
    var file = input.files && input.files[0];
    out.textContent = file ? "Selected: " + file.name + " (" + fileSize(file.size) + ")" : "";
    zone.classList.toggle("dropzone--has-file", !!file);
  }

  function announce(text, isError, elt) {
    var region = document.getElementById("live-region");
    var form = elt && elt.isConnected && elt.closest ? elt.closest("form") : null;
    var target = document.getElementById("version") || document.getElementById("board") || document.getElementById("main");
    if (region) region.textContent = text;
    if (!form && !target) return;
    var box = document.getElementById("client-error");
    if (box) box.remove();
    box = document.createElement("p");
    box.id = "client-error";
    box.setAttribute("role", "alert");
    if (form) form.parentNode.insertBefore(box, form);
    else target.insertBefore(box, target.firstChild);
    box.className = "flash " + (isError ? "flash--error" : "flash--info");
    box.textContent = text;
  }

  // ---- drag and drop onto the drop zone (delegated: the zone is swapped in and out)
  document.addEventListener("dragover", function (evt) {
    var zone = evt.target.closest && evt.target.closest("[data-dropzone]");
    if (!zone) return;
    evt.preventDefault();
    evt.dataTransfer.dropEffect = "copy";
    zone.classList.add("dropzone--over");
  });
  document.addEventListener("dragleave", function (evt) {
    var zone = evt.target.closest && evt.target.closest("[data-dropzone]");
    if (zone && !zone.contains(evt.relatedTarget)) zone.classList.remove("dropzone--over");
  });
  document.addEventListener("drop", function (evt) {
    var zone = evt.target.closest && evt.target.closest("[data-dropzone]");
    if (!zone) return;
    evt.preventDefault();
    zone.classList.remove("dropzone--over");
    var input = zone.querySelector("input[type=file]");
    if (input && evt.dataTransfer && evt.dataTransfer.files.length) {
      input.files = evt.dataTransfer.files;
      fileLabel(input);
    }
  });
  document.addEventListener("change", function (evt) {
    if (evt.target.matches && evt.target.matches("[data-dropzone] input[type=file]")) fileLabel(evt.target);
  });

  // ---- upload progress (htmx fires htmx:xhr:progress on the requesting form)
  function progressFor(elt) {
    var form = elt && elt.closest ? elt.closest("form") : null;
    return form ? form.querySelector("progress") : null;
  }
  document.addEventListener("htmx:xhr:progress", function (evt) {
    var bar = progressFor(evt.target);
    if (!bar || !evt.detail.lengthComputable) return;
    bar.hidden = false;
    bar.value = Math.round((evt.detail.loaded / evt.detail.total) * 100);
  });
  document.addEventListener("htmx:beforeRequest", function (evt) {
    var old = document.getElementById("client-error");
    if (old) old.remove();
    var bar = progressFor(evt.detail.elt);
    if (bar) { bar.value = 0; }
  });

  // ---- responses htmx does not swap (see htmx-config in base.html)
  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var msg = doc.querySelector("[role=alert]");
    var text = msg ? msg.textContent.trim() : "The server answered " + xhr.status + ".";
    if (xhr.status === 400) text += " Reload the page and try again.";
    announce(text, true, evt.detail.elt);
  });
  document.addEventListener("htmx:sendError", function (evt) {
    announce("Could not reach Stagegate. Is it still running?", true, evt.detail.elt);
  });

  // ---- keep keyboard and screen-reader users oriented after a swap
  document.addEventListener("htmx:afterSettle", function (evt) {
    var root = evt.detail.elt && evt.detail.elt.isConnected ? evt.detail.elt : document;
    if (evt.detail.requestConfig && evt.detail.requestConfig.verb === "get") return;
    var target = root.querySelector("[data-focus-on-swap]") || document.querySelector("[data-focus-on-swap]");
    if (target) target.focus({ preventScroll: false });
  });
})();
