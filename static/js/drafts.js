// Drafts and the character count of the opinion and critique pages.
//
// What a member types is kept in this browser's localStorage under
// "cg-draft:<deliberation>:<participant>:<iteration>", so it survives a reload, Back and a second
// tab. A text the server drew into the field (a refused send) wins over the draft. Every step
// page of the member removes the drafts of other iterations: once the page has moved on, the text
// was sent (or the phase closed), so nothing stale is restored later. Without JavaScript or
// localStorage the form works as before, without drafts. The count's words come from the page
// (data-count and data-over on #text-count), in the page's language; numbers are formatted in it.
(function () {
  var scope = document.getElementById("draft-scope");
  if (!scope) { return; }
  var prefix = scope.dataset.scope + ":";
  var store;
  try {
    store = window.localStorage;
    store.getItem(prefix);
  } catch (error) {
    store = null;
  }
  var field = document.querySelector("textarea[data-draft]");
  var key = field ? prefix + field.dataset.draft : null;

  if (store) {
    for (var i = store.length - 1; i >= 0; i--) {
      var name = store.key(i);
      if (name && name.indexOf(prefix) === 0 && name !== key) { store.removeItem(name); }
    }
  }
  if (!field) { return; }

  var count = document.getElementById("text-count");
  var restored = document.getElementById("draft-restored");
  var limit = Number(field.dataset.limit);
  var format = new Intl.NumberFormat(document.documentElement.lang || "en");

  function showCount() {
    // The server trims the text and counts a line break as one character, as here.
    var length = field.value.trim().length;
    var words = length > limit ? count.dataset.over : count.dataset.count;
    count.textContent = words
      .replace("{count}", format.format(length))
      .replace("{limit}", format.format(limit))
      .replace("{over}", format.format(length - limit));
    count.classList.toggle("error", length > limit);
  }

  function save() {
    if (!store) { return; }
    try {
      if (field.value.trim()) { store.setItem(key, field.value); } else { store.removeItem(key); }
    } catch (error) {
      // Storage full or refused: the form still works, without a draft.
    }
  }

  if (store) {
    var draft = store.getItem(key);
    if (field.value.trim()) {
      save();
    } else if (draft) {
      field.value = draft;
      restored.hidden = false;
    }
    // Typing in a second tab: follow it here while this tab's field is not being edited.
    window.addEventListener("storage", function (event) {
      if (event.key === key && document.activeElement !== field && event.newValue !== null) {
        field.value = event.newValue;
        showCount();
      }
    });
  }
  field.addEventListener("input", function () { save(); showCount(); });
  count.hidden = false;
  showCount();
})();
