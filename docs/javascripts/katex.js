// Render the pages' maths with the KaTeX that the package ships (the playground's copy): no CDN, so the site
// reads offline too. pymdownx.arithmatex (generic) wraps inline maths in \( \) and display maths in \[ \].
document$.subscribe(({ body }) => {
  renderMathInElement(body, {
    delimiters: [
      { left: "$$", right: "$$", display: true },
      { left: "\\[", right: "\\]", display: true },
      { left: "\\(", right: "\\)", display: false },
    ],
    throwOnError: false,
  });
});
