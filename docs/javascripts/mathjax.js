// MathJax for the pages (pymdownx.arithmatex writes \( \) and \[ \]) and for the notebooks ($ and $$ in their
// Markdown cells and in deltaprop's rendered derivations). Code blocks are skipped, as MathJax does by default.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true
  }
};
document$.subscribe(() => { if (window.MathJax && MathJax.typesetPromise) { MathJax.typesetPromise(); } });
