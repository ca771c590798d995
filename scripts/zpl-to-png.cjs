// Renders a ZPL file to PNG with zpl-renderer-js (an independent ZPL renderer), for tests that
// read the barcodes back: node scripts/zpl-to-png.cjs IN.zpl OUT.png
const fs = require("fs");
const { ready } = require("zpl-renderer-js");
(async () => {
  const [input, output] = process.argv.slice(2);
  const { api } = await ready;
  const png = await api.zplToBase64Async(fs.readFileSync(input, "utf8"), 101.6, 152.4, 8);
  fs.writeFileSync(output, Buffer.from(png, "base64"));
})().catch((e) => {
  console.error(`zpl-to-png: ${e}`);
  process.exit(1);
});
