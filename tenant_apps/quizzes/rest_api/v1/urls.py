"""Routes of the quizzes API, under /api/v1/ (the design document's paths,
with questions, answers, statistics and grading beside them)."""

from django.urls import path

from . import views

urlpatterns = [
    path(
        "courses/<uuid:course_id>/quizzes/",
        views.CourseQuizzesView.as_view(),
        name="course-quizzes",
    ),
    path(
        "courses/<uuid:course_id>/quiz-grading-queue/",
        views.CourseQuizGradingQueueView.as_view(),
        name="course-quiz-grading-queue",
    ),
    path("quizzes/<uuid:pk>/", views.QuizDetailView.as_view(), name="quiz-detail"),
    path(
        "quizzes/<uuid:pk>/questions/",
        views.QuizQuestionsView.as_view(),
        name="quiz-questions",
    ),
    path(
        "quizzes/<uuid:pk>/attempt/",
        views.QuizAttemptStartView.as_view(),
        name="quiz-attempt-start",
    ),
    path("quizzes/<uuid:pk>/attempts/", views.QuizAttemptsView.as_view(), name="quiz-attempts"),
    path(
        "quizzes/<uuid:pk>/statistics/",
        views.QuizStatisticsView.as_view(),
        name="quiz-statistics",
    ),
    path(
        "quiz-questions/<uuid:pk>/",
        views.QuestionDetailView.as_view(),
        name="quiz-question-detail",
    ),
    path("quiz-attempts/<uuid:pk>/", views.AttemptDetailView.as_view(), name="quiz-attempt-detail"),
    path(
        "quiz-attempts/<uuid:pk>/answers/",
        views.AttemptAnswersView.as_view(),
        name="quiz-attempt-answers",
    ),
    path(
        "quiz-attempts/<uuid:pk>/submit/",
        views.AttemptSubmitView.as_view(),
        name="quiz-attempt-submit",
    ),
    path(
        "quiz-responses/<uuid:pk>/grade/",
        views.ResponseGradeView.as_view(),
        name="quiz-response-grade",
    ),
]
