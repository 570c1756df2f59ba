// Copy buttons: <button data-copy="ID" hidden> copies the value of the input #ID. The button stays
// hidden without JavaScript or without the clipboard API; the link can still be selected by hand.
document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard) return;
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const input = document.getElementById(button.dataset.copy);
    const status = document.getElementById(button.dataset.copy + "-status");
    if (!input) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(input.value);
        if (status) status.textContent = "Copied.";
      } catch {
        input.select();
        if (status) status.textContent = "Could not copy; the link is selected, copy it by hand.";
      }
    });
  }
});
