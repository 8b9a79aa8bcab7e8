#pragma once
// Registers embed(), semantic_search() and hybrid_search() (lakehouse/queryd/ai_functions.h).
#include <memory>

#include "duckdb.hpp"
#include "lakehouse/queryd/ai_functions.h"

namespace lakehouse::queryd {

//! Adds the AI functions to the system catalog (before the sandbox locks). `link` may be null:
//! the functions then answer 503 naming what is missing.
void RegisterAiFunctions(duckdb::Connection& admin, std::shared_ptr<AiFunctionsLink> link);

}  // namespace lakehouse::queryd
