// Progressive enhancement only: every page works without this file.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.value !== undefined ? source.value : source.textContent;
  var done = function () {
    var status = document.getElementById(button.getAttribute("data-copy") + "-status");
    if (status) status.textContent = "Copied to the clipboard.";
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { source.select && source.select(); });
  } else if (source.select) {
    source.select();
    document.execCommand("copy");
    done();
  }
});

// A link with data-dialog opens that <dialog> instead of its page (the page stays the fallback).
document.addEventListener("click", function (event) {
  var opener = event.target.closest("a[data-dialog]");
  if (opener) {
    var dialog = document.getElementById(opener.getAttribute("data-dialog"));
    if (dialog && typeof dialog.showModal === "function") {
      event.preventDefault();
      dialog.showModal();
      var first = dialog.querySelector("input:not([type=hidden]), button, a");
      if (first) first.focus();
    }
    return;
  }
  var closer = event.target.closest("[data-close-dialog]");
  if (closer) {
    var open = closer.closest("dialog");
    if (open) open.close();
  }
});
