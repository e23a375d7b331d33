// Joins Prometheus text expositions (format 0.0.4) into one: the UI server's own metrics and
// those of the `drone run` processes it started, scraped from their --metrics-port, so that one
// scrape of the UI port sees every run it shows. A family (one `# TYPE`) may appear once in an
// exposition, so families are merged by name: `# HELP` and `# TYPE` from the first text that has
// them, then the samples of every text, in the order the families first appear. Samples keep
// their labels (each run's carry its `run_id`). A pure function; thread-safe.
#pragma once

#include <string>
#include <vector>

namespace drone::ui {

std::string MergeExpositions(const std::vector<std::string>& texts);

}  // namespace drone::ui
