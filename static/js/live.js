// The live panels of the moderator's pages poll with htmx. A panel marked
// data-pause-while-focused skips its poll while the focus is inside it, so a moderator typing
// into one of its forms is not interrupted by a swap. (An htmx trigger filter such as
// `[!this.contains(document.activeElement)]` would need eval, which the page's
// Content-Security-Policy forbids.)
document.addEventListener("htmx:beforeRequest", function (event) {
  var element = event.detail.elt;
  if (element.hasAttribute("data-pause-while-focused") && element.contains(document.activeElement)) {
    event.preventDefault();
  }
});
