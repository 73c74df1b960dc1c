// Names and roles gradio's own markup leaves out (axe-core: button-name, aria-prohibited-attr),
// added as gradio renders: the example gallery's picture buttons get the example's name, and the
// "Empty value" boxes of images not drawn yet get the role their aria-label needs, and a clickable
// picture's button is named after the picture's label.
(() => {
  const exampleName = (src) => decodeURIComponent((src || "").split(/[\/=]/).pop() || "")
    .replace(/\.[a-z0-9]+$/i, "").replace(/[_-]+/g, " ").trim();
  function fix(root) {
    for (const b of root.querySelectorAll(".gallery-item:not([aria-label])")) {
      const img = b.querySelector("img");
      const name = img && exampleName(img.getAttribute("src"));
      if (name) { b.setAttribute("aria-label", "Example: " + name); img.setAttribute("alt", ""); }
    }
    for (const e of root.querySelectorAll("div.empty[aria-label]:not([role])")) e.setAttribute("role", "img");
    // a clickable picture (it selects a patch): gradio wraps it in a button named by nothing
    for (const b of root.querySelectorAll(".image-container button")) {  // (again after a language switch)
      const label = b.closest(".block")?.querySelector('[data-testid="block-label"]');
      const name = label && label.textContent.trim();
      if (name && b.getAttribute("aria-label") !== name) b.setAttribute("aria-label", name);
    }
  }
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fix(document); });
  }).observe(document.documentElement, { subtree: true, childList: true });
  document.addEventListener("DOMContentLoaded", () => fix(document));
})();
