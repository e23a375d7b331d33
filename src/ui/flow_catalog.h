// The flows the UI offers: the `*.yaml` files of one directory, each described as JSON for
// `GET /api/flows` (name, description, parameters with their defaults, the step graph, and the
// problems found when it is loaded with its defaults) and validated with chosen parameters for
// `POST /api/flows/{name}/validate`. A flow's name in the API is its file name without `.yaml`.
// Files are read again on every call, so edits show up without restarting the server.
//
// Thread-safety: free functions over the file system; safe to call from several threads.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace drone::ui {

// True for names made of letters, digits, '.', '_' and '-' (not starting with '.'): such a name
// cannot leave the flows directory.
bool IsPlainName(const std::string& name);

// The names of the flows in `flows_dir`, sorted; empty when it cannot be read.
std::vector<std::string> ListFlowNames(const std::string& flows_dir);

// The path of flow `name`; NotFound when it is not a plain name or there is no such file.
Result<std::string> FlowPath(const std::string& flows_dir, const std::string& name);

// {name, file, title, description, params: {NAME: default}, steps: [{id, kind, needs: [{step,
// state}], background, finally}], errors: [...]} of the flow at `path`, loaded with its defaults.
nlohmann::json DescribeFlow(const std::string& name, const std::string& path);

// Loads and preflights the flow at `path` with `params`: {ok, errors: [{line, column, field,
// message, hint, text}]}.
nlohmann::json ValidateFlow(const std::string& path,
                            const std::map<std::string, std::string>& params);

}  // namespace drone::ui
