// Convoscope console: small enhancements. Every page works without this file.
document.documentElement.classList.add("js");

// Timestamps in the viewer's local time; the exact UTC value stays in the title.
function localiseTimes(root) {
  root.querySelectorAll("time[datetime]:not([data-local])").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.textContent = when.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
      el.dataset.local = "1";
    }
  });
}

document.addEventListener("DOMContentLoaded", () => localiseTimes(document));
document.addEventListener("htmx:afterSwap", (event) => localiseTimes(event.target));
document.addEventListener("htmx:load", (event) => localiseTimes(event.target));

// Copy-to-clipboard buttons: <button class="copy" data-copy="text">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1200);
  });
});

// "/" focuses the search box, unless the user is typing somewhere already.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const tag = (document.activeElement && document.activeElement.tagName) || "";
  if (["INPUT", "TEXTAREA", "SELECT"].includes(tag)) return;
  const box = document.querySelector("[data-search-box]");
  if (box) { event.preventDefault(); box.focus(); }
});

// Back and forward restore htmx's snapshot of the page, taken when the user had already typed
// the next search: refill the search forms from the URL, which is the search being shown.
document.addEventListener("htmx:historyRestore", () => {
  const params = new URLSearchParams(location.search);
  document.querySelectorAll("form[hx-push-url] input[name], form[hx-push-url] select[name]").forEach((field) => {
    if (field.type === "hidden") return;
    field.value = params.get(field.name) || "";
  });
});

// htmx swaps nothing when a request fails (a 403, a 503 while the database restarts, the
// network): say so instead of leaving the page silently unchanged.
function showProblem(text) {
  const box = document.getElementById("messages");
  if (!box) return;
  const line = document.createElement("p");
  line.className = "message error";
  line.setAttribute("role", "alert");
  line.textContent = text;
  box.replaceChildren(line);
}
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  showProblem(status === 403 ? "Your role does not allow this."
    : status >= 500 ? `The server could not answer (${status}); try again in a moment.`
    : `The request failed (${status}).`);
});
document.addEventListener("htmx:sendError", () => showProblem("The server cannot be reached; check your connection."));
