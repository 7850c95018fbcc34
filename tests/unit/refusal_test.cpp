// Refusals have one text each, whichever store refuses; the Redis scripts
// name a refusal by its error_name().
#include <gtest/gtest.h>

#include "domain/errors.hpp"

namespace {

using flashgate::domain::error_name;
using flashgate::domain::ErrorCode;
using flashgate::domain::refusal;
using flashgate::domain::refusal_named;

TEST(Refusal, EveryRefusalAScriptAnswersIsFoundByItsName) {
  for (auto code : {ErrorCode::sale_not_found, ErrorCode::sale_not_open, ErrorCode::sale_ended, ErrorCode::sold_out,
                    ErrorCode::order_not_found, ErrorCode::order_not_payable}) {
    const auto named = refusal_named(error_name(code));
    ASSERT_TRUE(named) << error_name(code);
    EXPECT_EQ(named->code, code);
    EXPECT_EQ(named->message, refusal(code).message);
    EXPECT_FALSE(named->message.empty());
  }
}

TEST(Refusal, WhatNamesNoRefusalIsNone) {
  for (const char* other : {"accepted", "existing", "ok", "found", "skip", "", "SOLD_OUT", "internal"})
    EXPECT_FALSE(refusal_named(other)) << other;
}

TEST(Refusal, TextsAreTheContractsAndACodeWithoutOneReadsAsItsName) {
  EXPECT_EQ(refusal(ErrorCode::sold_out).message, "sold out");
  EXPECT_EQ(refusal(ErrorCode::sale_not_open).message, "the sale has not started");
  EXPECT_EQ(refusal(ErrorCode::internal).message, "internal");
  EXPECT_EQ(flashgate::domain::no_order_for_ticket().code, ErrorCode::order_not_found);
}

}  // namespace
