// Ranking widget: "Move up" / "Move down" buttons reorder the statements and set every place
// select to the new order; each move is announced in a polite live region and focus stays on the
// button that was pressed. Without this script the form is a plain set of place selects. The
// selects start unchosen and are set only when the member presses a button or picks a place, so
// "Send ranking" on an untouched form sends no places and is refused, as without the script.
// The announcements' words come from the page (data-moved, data-first, data-last of #rank-status).
(function () {
  document.querySelectorAll("[data-rankable]").forEach(function (list) {
    var form = list.closest("form");
    var status = form.querySelector("#rank-status");
    form.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });

    function items() { return Array.prototype.slice.call(list.children); }

    function renumber() {
      items().forEach(function (item, index) {
        var select = item.querySelector("select");
        if (select) { select.value = String(index + 1); }
      });
    }

    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-move]");
      if (!button) { return; }
      var item = button.closest("li");
      var all = items();
      var index = all.indexOf(item);
      if (button.dataset.move === "up" && index > 0) {
        list.insertBefore(item, all[index - 1]);
      } else if (button.dataset.move === "down" && index < all.length - 1) {
        list.insertBefore(all[index + 1], item);
      } else {
        // Pressing a button is the member acting on the order: the places follow what is shown.
        renumber();
        status.textContent = (index === 0 ? status.dataset.first : status.dataset.last)
          .replace("{letter}", item.dataset.letter);
        return;
      }
      renumber();
      var place = items().indexOf(item) + 1;
      status.textContent = status.dataset.moved
        .replace("{letter}", item.dataset.letter)
        .replace("{place}", place)
        .replace("{count}", all.length);
      button.focus();
    });

    // Picking a place by hand: reorder the list to match (ties keep their current order; places
    // not chosen yet go after the chosen ones).
    list.addEventListener("change", function (event) {
      if (event.target.tagName !== "SELECT") { return; }
      items()
        .map(function (item, index) {
          var value = item.querySelector("select").value;
          return { item: item, index: index, place: value === "" ? Infinity : Number(value) };
        })
        .sort(function (a, b) { return a.place - b.place || a.index - b.index; })
        .forEach(function (entry) { list.appendChild(entry.item); });
      event.target.focus();
    });
  });
})();
