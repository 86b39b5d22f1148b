"""Celery tasks of the operator console."""

from celery import shared_task

from .models import OperatorAction


@shared_task
def operator_action_result_record(result: str, *, operator_action_id: int) -> str:
    """Linked after an export or a deletion queued from the console: adds what
    it produced (the export's storage name) to the action's audit row, so the
    operator finds it there, even once the institution is gone. Setting the
    same name twice changes nothing."""
    action = OperatorAction.objects.filter(pk=operator_action_id).first()
    if action is not None and result:
        action.details = {**action.details, "export_name": result}
        action.save(update_fields=["details"])
    return result
