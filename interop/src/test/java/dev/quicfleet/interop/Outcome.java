package dev.quicfleet.interop;

/** One cell of the matrix: PASS, FAIL or N/A, with what was seen (or why the case cannot run with that client). */
record Outcome(Result result, String detail) {

    enum Result { PASS, FAIL, NA }

    static Outcome pass(String detail) {
        return new Outcome(Result.PASS, detail);
    }

    static Outcome fail(String detail) {
        return new Outcome(Result.FAIL, detail);
    }

    static Outcome na(String reason) {
        return new Outcome(Result.NA, reason);
    }

    /** PASS if every check is null (passed), else FAIL with the first failed check. */
    static Outcome check(String passDetail, String... failures) {
        for (String failure : failures) {
            if (failure != null) {
                return fail(failure);
            }
        }
        return pass(passDetail);
    }

    String cell() {
        return switch (result) {
            case PASS -> "PASS";
            case FAIL -> "FAIL";
            case NA -> "N/A";
        };
    }
}
