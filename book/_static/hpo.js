// Search result snippets are cut from each page's text: keep hidden solutions out of
// them, so that searching does not reveal what a dropdown hides.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof Search === "undefined" || typeof Search.htmlToText !== "function") return;
  const pageText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".solution").forEach((solution) => solution.remove());
    return pageText(page.documentElement.outerHTML, anchor);
  };
});
