/* STUB: replaced by the validator. */
#pragma once
