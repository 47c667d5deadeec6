#!/usr/bin/env node
// `cdktf` is the archived CLI's name; CDK Terrain's CLI (cdktn-cli) takes the same commands and
// flags under the name `cdktn`. Running it from here keeps the README's `npx cdktf synth` working.
const cdktn = require.resolve("cdktn-cli/bin/cdktn");
// The CLI's argument parser finds its package (name, `--version`) from the main script's path.
require.main.filename = cdktn;
require(cdktn);
