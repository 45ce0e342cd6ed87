"use strict";
// one player at a time, and the next clip starts when one ends: a trainer can listen straight through
(function () {
  const players = Array.from(document.querySelectorAll("audio"));
  players.forEach(function (a, i) {
    a.addEventListener("play", function () {
      players.forEach(function (b) { if (b !== a) b.pause(); });
    });
    a.addEventListener("ended", function () {
      if (players[i + 1]) players[i + 1].play().catch(function () { /* refused: the trainer presses play */ });
    });
  });
})();
