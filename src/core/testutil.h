// Test helpers shared by unit tests (GoogleTest).
#pragma once

#include <gtest/gtest.h>

#include "core/status.h"

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    const ::drone::Status drone_s_ = (expr);             \
    ASSERT_TRUE(drone_s_.ok()) << drone_s_.ToString();   \
  } while (0)

#define EXPECT_OK(expr)                                  \
  do {                                                   \
    const ::drone::Status drone_s_ = (expr);             \
    EXPECT_TRUE(drone_s_.ok()) << drone_s_.ToString();   \
  } while (0)
