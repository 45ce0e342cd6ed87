"""The Chinese words every report page uses for severities, kinds, speakers and dimensions."""

SEVERITY_LABEL = {"critical": "严重", "major": "重要", "minor": "一般", "info": "提示"}
KIND_LABEL = {"violation": "违规", "alert": "预警", "info": "提示"}
# a finding's status: asserted as a violation or an alert, or to verify (the recogniser was unsure of the words)
STATUS_LABEL = {"violation": "违规", "alert": "预警", "needs_review": "待核实"}
SPEAKER_LABEL = {"agent": "坐席", "customer": "客户"}
DIMENSION_LABEL = {"compliance": "合规", "professionalism": "专业", "customer_experience": "客户体验"}
ANSWER_LABEL = {"positive": "肯定", "negative": "否定", "unclear": "含糊", "none": "未答"}  # the customer's answer
