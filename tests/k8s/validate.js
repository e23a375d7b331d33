#!/usr/bin/env node
// Validates Kubernetes manifests (multi-document YAML files, or directories of them) against the
// Kubernetes OpenAPI schemas through kubernetes-models; objects of custom resources that the
// package does not model (Strimzi's) get their metadata checked. Every object must also carry
// Drone's labels. Prints one line per problem and exits 1 when there is any.
"use strict";
const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

// Custom resources Drone synthesises, whose schemas come with their operators.
const kCustomResources = new Set(["kafka.strimzi.io/v1beta2/Kafka", "kafka.strimzi.io/v1beta2/KafkaNodePool"]);
const kRequiredLabels = ["app.kubernetes.io/managed-by", "drone.dev/run-id", "drone.dev/flow"];
const kDnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function modelClass(apiVersion, kind) {
  const modulePath = "kubernetes-models/" + apiVersion;
  let mod;
  try {
    mod = require(modulePath);
  } catch (e) {
    return null;
  }
  return mod[kind] || null;
}

function files(arg) {
  const stat = fs.statSync(arg);
  if (!stat.isDirectory()) return [arg];
  return fs.readdirSync(arg).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(arg, f));
}

function checkObject(obj, where, problems) {
  if (obj === null || typeof obj !== "object") {
    problems.push(`${where}: not an object`);
    return;
  }
  const { apiVersion, kind, metadata } = obj;
  if (!metadata || typeof metadata.name !== "string" || !kDnsLabel.test(metadata.name) || metadata.name.length > 63) {
    problems.push(`${where}: metadata.name must be a DNS label, got ${JSON.stringify(metadata && metadata.name)}`);
  }
  const labels = (metadata && metadata.labels) || {};
  for (const l of kRequiredLabels) {
    if (typeof labels[l] !== "string" || labels[l] === "") problems.push(`${where}: label ${l} is missing`);
  }
  const Model = modelClass(apiVersion, kind);
  if (Model === null) {
    if (!kCustomResources.has(`${apiVersion}/${kind}`)) {
      problems.push(`${where}: ${apiVersion} ${kind} is neither a Kubernetes kind nor a known custom resource`);
    }
    return;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(`${where}: ${apiVersion} ${kind} ${metadata && metadata.name}: ${e.message}`);
  }
}

function main(args) {
  if (args.length === 0) {
    console.error("usage: validate.js FILE_OR_DIR...");
    return 2;
  }
  const problems = [];
  let objects = 0;
  for (const arg of args) {
    for (const file of files(arg)) {
      let docs;
      try {
        docs = yaml.loadAll(fs.readFileSync(file, "utf8"));
      } catch (e) {
        problems.push(`${file}: YAML: ${e.message}`);
        continue;
      }
      docs.forEach((doc, i) => {
        if (doc === null || doc === undefined) return;
        objects++;
        checkObject(doc, `${file}#${i + 1}`, problems);
      });
    }
  }
  for (const p of problems) console.log(p);
  console.log(`${objects} objects, ${problems.length} problems`);
  if (objects === 0) return 1;  // nothing validated is a failure, not a pass
  return problems.length === 0 ? 0 : 1;
}

process.exit(main(process.argv.slice(2)));
