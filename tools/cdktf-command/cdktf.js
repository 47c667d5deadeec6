#!/usr/bin/env node
// `cdktf` is the archived CLI's name; CDK Terrain's CLI (cdktn-cli) takes the same commands and
// flags under the name `cdktn`. Running it from here keeps the README's `npx cdktf synth` working.
require("cdktn-cli/bin/cdktn");
