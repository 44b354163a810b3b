"""The CLI's results handled by the thread that puts them."""
import threading

from awscli.customizations.s3.results import (
    CommandResultRecorder, ErrorResult, QueuedResult, ResultRecorder,
    SuccessResult)

from awscli_ppdl.inlineresults import InlineResultProcessor, InlineResultQueue


def queued(name):
    return QueuedResult(transfer_type='download', src=f's3://b/{name}',
                        dest=name, total_transfer_size=3)


def succeeded(name):
    return SuccessResult(transfer_type='download', src=f's3://b/{name}',
                         dest=name)


def test_each_result_is_handled_in_the_putting_thread_in_order():
    handled = []
    result_queue = InlineResultQueue()
    InlineResultProcessor(result_queue, [lambda result: handled.append(
        (result, threading.current_thread()))])
    first, second = queued('a'), succeeded('a')
    result_queue.put(first)
    result_queue.put(second)
    assert handled == [(first, threading.current_thread()),
                       (second, threading.current_thread())]
    assert result_queue.empty()


def test_the_cli_recorder_counts_them_and_its_thread_ends_on_shutdown():
    """``CommandResultRecorder`` drives it as it drives the CLI's own: the
    thread starts, takes only the shutdown request, and the command's
    result counts what was put."""
    result_queue = InlineResultQueue()
    recorder = ResultRecorder()
    processor = InlineResultProcessor(result_queue, [recorder])
    command = CommandResultRecorder(result_queue, recorder, processor)
    with command:
        for name in ('a', 'b'):
            result_queue.put(queued(name))
            result_queue.put(succeeded(name))
    assert not processor.is_alive()
    result = command.get_command_result()
    assert (result.num_tasks_failed, result.num_tasks_warned) == (0, 0)
    assert recorder.files_transferred == 2


def test_after_a_fatal_error_results_are_no_longer_handled():
    """ResultProcessor's rule: the ErrorResult is handled, what follows is
    only taken."""
    handled = []
    result_queue = InlineResultQueue()
    InlineResultProcessor(result_queue, [handled.append])
    error = ErrorResult(exception=RuntimeError('boom'))
    result_queue.put(error)
    result_queue.put(succeeded('a'))
    assert handled == [error]


def test_a_failing_handler_does_not_stop_the_others():
    handled = []

    def failing(result):
        raise RuntimeError('broken handler')

    result_queue = InlineResultQueue()
    InlineResultProcessor(result_queue, [failing, handled.append])
    result = succeeded('a')
    result_queue.put(result)
    assert handled == [result]


def test_without_a_processor_it_is_a_plain_queue():
    result_queue = InlineResultQueue()
    result = succeeded('a')
    result_queue.put(result)
    assert result_queue.get_nowait() is result
