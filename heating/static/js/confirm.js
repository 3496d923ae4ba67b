// Ask before destructive buttons (rollback, disable). Without JS the buttons still work.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var text = button && button.getAttribute("data-confirm");
  if (text && !window.confirm(text)) {
    event.preventDefault();
  }
});
