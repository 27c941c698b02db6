// 98.css's pixel fonts (and their licences) go to static/, where the built
// stylesheet's @font-face rules find them: users never need node_modules.
import { copyFileSync, mkdirSync } from "node:fs";

const from = "node_modules/98.css";
const to = "../static/fonts/98";
mkdirSync(to, { recursive: true });
for (const name of ["ms_sans_serif.woff2", "ms_sans_serif_bold.woff2"]) {
  copyFileSync(`${from}/dist/${name}`, `${to}/${name}`);
}
copyFileSync(`${from}/LICENSE`, `${to}/LICENSE-98.css.txt`);
copyFileSync(`${from}/fonts/src/ms-sans-serif/license.txt`, `${to}/LICENSE-fonts.txt`);
