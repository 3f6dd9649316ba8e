"""`@cog.streaming` and `@cog.concurrent` in every form Cog accepts."""

import pytest

import cog


def test_streaming_marks_the_function_in_both_forms():
    @cog.streaming
    def a() -> None: ...

    @cog.streaming()
    def b() -> None: ...

    assert a.__cog_streaming__ and b.__cog_streaming__


def test_concurrent_records_max_and_needs_async_above_one():
    @cog.concurrent(max=8)
    async def run() -> None: ...

    assert run.__cog_concurrent_max__ == 8

    @cog.concurrent
    def sync() -> None: ...

    assert sync.__cog_concurrent_max__ == 1

    with pytest.raises(TypeError, match="async"):

        @cog.concurrent(max=2)
        def not_async() -> None: ...

    with pytest.raises(TypeError, match="integer"):
        cog.concurrent(max=True)
    with pytest.raises(ValueError, match="at least 1"):
        cog.concurrent(max=0)


def test_cancelation_is_not_an_ordinary_exception():
    assert issubclass(cog.CancelationException, BaseException)
    assert not issubclass(cog.CancelationException, Exception)
